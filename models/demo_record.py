"""Demo data of the household record: evaluations and notes (and their audit events).

Drawn from a generator of its own (like the contact details of `models.demo_households`),
so that adding it changed no name, date or composition drawn before. Every household of 75 and
93 that is still active has a fair chance of flash evaluations by its SIAO; the
households a social worker accompanies have deep evaluations by them. 7500000001 (the
beneficiary's) has both. Notes: the accompanied households and some others have notes by
their social worker or SIAO; a few are pinned until a year after the latest demo instant
(7500000001 has one), so that the demo shows pins for a while.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from models.demo import END, FIRST_75_REFERENCE, SEED, SIAO_LOGIN, _created, demo_id
from models.evaluation import DeepSection, EvaluationKind, FlashCriterion

if TYPE_CHECKING:
    from models.demo_builder import DemoBuilder
    from models.demo_households import HouseholdDraft

Row = dict[str, Any]

SECTION_TEXTS: dict[DeepSection, tuple[str, ...]] = {
    DeepSection.HOUSING_PATH: (
        "Hébergée chez un tiers depuis plusieurs mois après une expulsion locative.",
        "Alternance entre la rue et les nuitées du 115 depuis l'automne.",
        "Sortie de CHU, en attente d'une place en structure d'insertion.",
        "Locataire du parc privé jusqu'à l'an dernier ; impayés de loyer après une perte d'emploi.",
    ),
    DeepSection.FAMILY_SITUATION: (
        "Famille monoparentale ; les enfants sont scolarisés dans le quartier.",
        "Couple avec enfants : la famille souhaite rester unie.",
        "Personne isolée, liens familiaux distendus.",
    ),
    DeepSection.RESOURCES: (
        "RSA et allocations familiales.",
        "Salaire à temps partiel (CDD de six mois).",
        "Aucune ressource : ouverture des droits en cours.",
        "Allocation chômage jusqu'à la fin de l'année.",
    ),
    DeepSection.HEALTH: (
        "Suivi médical régulier, pas de besoin particulier signalé.",
        "Suivi en PMI pour le plus jeune enfant.",
        "Traitement en cours : un hébergement stable est nécessaire.",
    ),
    DeepSection.SOCIAL_SUPPORT: (
        "Accompagnement global par l'association depuis l'ouverture du dossier.",
        "Lien avec le CCAS et l'assistante sociale de secteur.",
        "Domiciliation au CCAS, suivi par l'équipe mobile.",
    ),
    DeepSection.RECOMMENDATION: (
        "Orientation vers un CHRS d'insertion.",
        "Logement adapté (pension de famille) à envisager.",
        "Demande d'insertion au SIAO, priorité haute.",
        "Accès direct au logement (Logement d'abord).",
    ),
}
NOTES: tuple[tuple[str, str], ...] = (
    ("Rendez-vous CAF", "Rendez-vous pris à la CAF mardi à 10 h pour la mise à jour du dossier."),
    (
        "Point sur la scolarisation",
        "Les enfants sont inscrits à l'école du quartier depuis la "
        "rentrée ; la cantine est prise en charge.",
    ),
    (
        "Appel du 115",
        "Appel au 115 hier soir : pas de place disponible, la famille a dormi chez "
        "une amie. Rappeler ce soir.",
    ),
    ("Dossier DALO", "Recours DALO déposé ; en attente de la commission de médiation."),
    (
        "Visite à domicile",
        "Visite effectuée à l'hôtel : chambre trop petite pour la famille, humidité importante.",
    ),
    (
        "Relance du bailleur",
        "Relance envoyée au bailleur social au sujet de la proposition de logement.",
    ),
    (
        "Nouveau numéro de téléphone",
        "Madame a changé de numéro : le nouveau est dans la fiche identité.",
    ),
    ("Ouverture des droits", "Demande de RSA déposée, premier versement attendu le mois prochain."),
    (
        "Hébergement d'urgence",
        "Hébergement d'urgence prolongé d'une semaine ; faire le point vendredi.",
    ),
    (
        "Suivi de l'orientation",
        "Orientation proposée au CHRS : entretien de pré-admission à prévoir.",
    ),
)
PIN_UNTIL = END + timedelta(days=365)
OTHER_CRITERIA = (
    FlashCriterion.PREGNANCY,
    FlashCriterion.HEALTH_ISSUE,
    FlashCriterion.DISABILITY,
    FlashCriterion.VIOLENCE,
    FlashCriterion.STREET_TONIGHT,
    FlashCriterion.NO_RESOURCES,
)


class RecordBuilder:
    def __init__(self, builder: DemoBuilder) -> None:
        self.builder = builder
        self.rng = random.Random(SEED + 3)
        self.evaluations: list[Row] = []
        self.notes: list[Row] = []
        self.note_persons: list[Row] = []

    def build(self) -> None:
        for household in self.builder.households.values():
            if household.closed_at is not None:
                continue
            forced = household.reference == FIRST_75_REFERENCE
            if forced or self.rng.random() < 0.6:
                for _ in range(1 if forced else self.rng.randint(1, 3)):
                    self._flash(household)
            if household.follower and (forced or self.rng.random() < 0.5):
                for _ in range(1 if forced else self.rng.randint(1, 2)):
                    self._deep(household, household.follower)
            if forced or (household.follower or self.rng.random() < 0.2):
                for i in range(3 if forced else self.rng.randint(0, 4)):
                    pinned = (forced and i == 0) or self.rng.random() < 0.08
                    self._note(household, household.follower, pinned)

    def _instant(self, household: HouseholdDraft) -> datetime:
        lower = household.created_at + timedelta(days=2)
        span = max(1, int((END - lower).total_seconds() // 3600) - 1)
        at = lower + timedelta(hours=self.rng.randint(1, span))
        return at.replace(minute=self.rng.randrange(0, 60, 5), second=0)

    def _flash(self, household: HouseholdDraft) -> None:
        rng = self.rng
        at = self._instant(household)
        births = [s.person["birth_date"] for s in household.members_at(at)]
        criteria = set()
        if any(b and (at.date() - b).days < 3 * 365 for b in births):
            criteria.add(FlashCriterion.CHILDREN_UNDER_3)
        if any(b and (at.date() - b).days >= 65 * 365 for b in births):
            criteria.add(FlashCriterion.ELDERLY)
        criteria |= {c for c in OTHER_CRITERIA if rng.random() < 0.15}
        level = min(4, 1 + len(criteria) + (1 if rng.random() < 0.3 else 0))
        values = {
            "kind": EvaluationKind.FLASH.value,
            "vulnerabilityLevel": level,
            "criteria": [c.value for c in FlashCriterion if c in criteria],
        }
        self._add(household, at, SIAO_LOGIN[household.territory], values)

    def _deep(self, household: HouseholdDraft, login: str) -> None:
        sections = {
            section.value: self.rng.choice(texts)
            for section, texts in SECTION_TEXTS.items()
            if section is DeepSection.RECOMMENDATION or self.rng.random() < 0.85
        }
        values = {"kind": EvaluationKind.DEEP.value, "sections": sections}
        self._add(household, self._instant(household), login, values)

    def _note(self, household: HouseholdDraft, follower: str | None, pinned: bool) -> None:
        rng = self.rng
        at = self._instant(household)
        login = follower if follower and rng.random() < 0.7 else SIAO_LOGIN[household.territory]
        author = self.builder.user[login]
        title, body = rng.choice(NOTES)
        present = [s.person["id"] for s in household.members_at(at)]
        concerned = [p for p in present if rng.random() < 0.3]
        note_id = demo_id("note", len(self.notes) + 1)
        self.notes.append(
            {
                "id": note_id,
                "household_id": household.id,
                "title": title,
                "body": body,
                "created_at": at,
                "updated_at": at,
                "created_by": author,
                "version": 1,
                "pinned_until": PIN_UNTIL if pinned else None,
                "pinned_at": at if pinned else None,
                "pinned_by": author if pinned else None,
            }
        )
        self.note_persons += [{"note_id": note_id, "person_id": p} for p in concerned]
        values = {"title": title, "body": body, "concernedPersons": sorted(map(str, concerned))}
        self.builder._event(at, author, "CREATE", "Note", note_id, household, _created(values))
        if pinned:
            self.builder._event(
                at, author, "PIN", "Note", note_id, household, _created({"pinnedUntil": PIN_UNTIL})
            )

    def _add(self, household: HouseholdDraft, at: datetime, login: str, values: Row) -> None:
        evaluation_id = demo_id("evaluation", len(self.evaluations) + 1)
        author = self.builder.user[login]
        self.evaluations.append(
            {
                "id": evaluation_id,
                "household_id": household.id,
                "kind": EvaluationKind(values["kind"]),
                "vulnerability_level": values.get("vulnerabilityLevel"),
                "criteria": values.get("criteria"),
                "sections": values.get("sections"),
                "created_at": at,
                "created_by": author,
            }
        )
        self.builder._event(
            at, author, "CREATE", "Evaluation", evaluation_id, household, _created(values)
        )
