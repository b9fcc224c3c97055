"""The GraphQL enums of the situation sections, each value described (French terms given,
since the people who fill these in think in them)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from auth.policy import SituationSection as _SituationSection
from models.situation import ActivityStatus as _ActivityStatus
from models.situation import ChargeKind as _ChargeKind
from models.situation import DaloStatus as _DaloStatus
from models.situation import HealthCoverage as _HealthCoverage
from models.situation import LivingSituation as _LivingSituation
from models.situation import ResidenceStatus as _ResidenceStatus
from models.situation import ResourceKind as _ResourceKind
from models.situation import ViolenceKind as _ViolenceKind
from schema.enums import described_enum

if TYPE_CHECKING:
    SituationSection = _SituationSection
    DaloStatus = _DaloStatus
    LivingSituation = _LivingSituation
    ActivityStatus = _ActivityStatus
    ResourceKind = _ResourceKind
    ChargeKind = _ChargeKind
    ResidenceStatus = _ResidenceStatus
    HealthCoverage = _HealthCoverage
    ViolenceKind = _ViolenceKind
else:
    S = _SituationSection
    SituationSection = described_enum(
        S,
        "A section of the household's situation, saved on its own.",
        {
            S.HOUSING_STEPS: "Démarches d'accès au logement: social-housing application "
            "(SNE number), DALO recourse. Household; category SITUATION.",
            S.HOUSING_PRECARITY: "Précarité liée au logement: where the household lives now. "
            "Household; category SITUATION.",
            S.ACTIVITY: "Activité et emploi. Per person; category SITUATION.",
            S.BUDGET: "Situation budgétaire: resources and charges by type, debts. "
            "Household; category BUDGET.",
            S.ADMINISTRATIVE: "Situation administrative: right of residence, papers. Per "
            "person; category ADMINISTRATIVE.",
            S.MEDICO_SOCIAL: "Situation médico-sociale: health coverage, pregnancy, "
            "disability, addiction. Per person; category HEALTH.",
            S.VIOLENCE: "Violences, and the household's protected flag. Household; category "
            "VIOLENCE.",
        },
    )
    D = _DaloStatus
    DaloStatus = described_enum(
        D,
        "Where the household's DALO recourse (droit au logement opposable) stands.",
        {
            D.NONE: "No recourse filed.",
            D.FILED: "Filed with the mediation commission; no decision yet.",
            D.RECOGNISED: "Recognised as a priority to be housed urgently.",
            D.REJECTED: "Rejected by the commission.",
            D.HOUSED: "Recognised and housed.",
        },
    )
    L = _LivingSituation
    LivingSituation = described_enum(
        L,
        "Where the household lives now (précarité liée au logement).",
        {
            L.STREET: "Rue.",
            L.MAKESHIFT_SHELTER: "Habitat de fortune (tent, car, shed).",
            L.SQUAT: "Squat.",
            L.EMERGENCY_SHELTER: "Hébergement d'urgence (115, CHU).",
            L.HOTEL: "Hôtel (paid by the 115 or by the household).",
            L.HOSTED_BY_FAMILY_OR_FRIENDS: "Hébergé chez un tiers (family, friends).",
            L.INSERTION_HOUSING: "Hébergement d'insertion or temporary housing (CHRS, ALT).",
            L.INSTITUTION: "Hospital, care facility or prison, leaving soon.",
            L.OWN_HOUSING_THREATENED: "Own housing, threatened (eviction, unfit, overcrowded).",
            L.OTHER: "Something else (see comment).",
        },
    )
    A = _ActivityStatus
    ActivityStatus = described_enum(
        A,
        "A person's activity (activité et emploi).",
        {
            A.EMPLOYED_PERMANENT: "Employed, permanent contract (CDI).",
            A.EMPLOYED_TEMPORARY: "Employed, fixed-term or temping (CDD, intérim).",
            A.SELF_EMPLOYED: "Self-employed.",
            A.JOB_SEEKER: "Looking for work.",
            A.IN_TRAINING: "In vocational training.",
            A.STUDENT: "Student.",
            A.PUPIL: "Child at school.",
            A.RETIRED: "Retired.",
            A.UNABLE_TO_WORK: "Unable to work (illness, disability).",
            A.NO_ACTIVITY: "No activity.",
            A.OTHER: "Something else (see comment).",
        },
    )
    R = _ResourceKind
    ResourceKind = described_enum(
        R,
        "A kind of monthly resource.",
        {
            R.SALARY: "Salary (salaire).",
            R.UNEMPLOYMENT_BENEFIT: "Unemployment benefit (ARE).",
            R.RSA: "Revenu de solidarité active.",
            R.ACTIVITY_BONUS: "Prime d'activité.",
            R.FAMILY_BENEFITS: "Family benefits (prestations familiales).",
            R.HOUSING_BENEFIT: "Housing benefit (APL, ALS, ALF).",
            R.DISABILITY_ALLOWANCE: "Disabled adult allowance (AAH).",
            R.PENSION: "Retirement or invalidity pension.",
            R.ASYLUM_SEEKER_ALLOWANCE: "Allocation pour demandeur d'asile (ADA).",
            R.ALIMONY: "Maintenance received (pension alimentaire).",
            R.OTHER: "Another resource (see label).",
        },
    )
    C = _ChargeKind
    ChargeKind = described_enum(
        C,
        "A kind of monthly charge.",
        {
            C.RENT: "Rent (loyer).",
            C.ACCOMMODATION_FEE: "Contribution to an accommodation (participation).",
            C.ENERGY: "Energy and water.",
            C.INSURANCE: "Insurance and complementary health cover.",
            C.TRANSPORT: "Transport.",
            C.PHONE: "Phone and internet.",
            C.CHILDCARE: "Childcare, school canteen.",
            C.ALIMONY: "Maintenance paid (pension alimentaire).",
            C.LOAN_REPAYMENT: "Loan or debt repayment (plan de surendettement included).",
            C.OTHER: "Another charge (see label).",
        },
    )
    P = _ResidenceStatus
    ResidenceStatus = described_enum(
        P,
        "A person's right of residence in France.",
        {
            P.FRENCH: "French national.",
            P.EU_CITIZEN: "Citizen of the EU, EEA or Switzerland.",
            P.RESIDENCE_PERMIT: "Residence permit (titre de séjour) or residence card.",
            P.RECEIPT: "Receipt of an application (récépissé) or provisional authorisation.",
            P.ASYLUM_SEEKER: "Asylum seeker (attestation de demande d'asile).",
            P.REFUGEE: "Refugee status.",
            P.SUBSIDIARY_PROTECTION: "Subsidiary protection.",
            P.STATELESS: "Stateless person status.",
            P.NO_RIGHT_OF_RESIDENCE: "No right of residence at present.",
            P.OTHER: "Something else (see comment).",
        },
    )
    H = _HealthCoverage
    HealthCoverage = described_enum(
        H,
        "A person's health insurance.",
        {
            H.NONE: "No coverage (rights to open).",
            H.BASIC: "Basic coverage only (PUMa).",
            H.BASIC_AND_COMPLEMENTARY: "Basic and a complementary cover (mutuelle).",
            H.CSS: "Complémentaire santé solidaire.",
            H.AME: "Aide médicale de l'État.",
        },
    )
    V = _ViolenceKind
    ViolenceKind = described_enum(
        V,
        "A kind of violence suffered.",
        {
            V.DOMESTIC: "By a partner or former partner (violences conjugales).",
            V.FAMILY: "Within the family (violences intrafamiliales).",
            V.SEXUAL: "Sexual violence.",
            V.TRAFFICKING: "Trafficking or exploitation (traite des êtres humains).",
            V.OTHER: "Another kind (see comment).",
        },
    )

# Model enum -> GraphQL enum, for the generic conversions of `schema.situation`.
SCHEMA_ENUMS: dict[type[StrEnum], Any] = {
    _DaloStatus: DaloStatus,
    _LivingSituation: LivingSituation,
    _ActivityStatus: ActivityStatus,
    _ResourceKind: ResourceKind,
    _ChargeKind: ChargeKind,
    _ResidenceStatus: ResidenceStatus,
    _HealthCoverage: HealthCoverage,
    _ViolenceKind: ViolenceKind,
}
