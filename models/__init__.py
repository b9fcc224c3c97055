"""SQLAlchemy tables, one module per aggregate; engine and sessions. Knows no GraphQL."""

from models.attachment import Attachment
from models.audit import AccessEvent, AuditEvent
from models.base import Base
from models.demand import Demand, DemandKind, DemandPerson, DemandStatus
from models.evaluation import DeepSection, Evaluation, EvaluationKind, FlashCriterion
from models.household import (
    Accompaniment,
    AccompanimentEndReason,
    AccompanimentRole,
    Household,
    Membership,
    Relationship,
)
from models.note import Note, NotePerson
from models.organisation import Organisation, OrganisationKind, Territory, User
from models.orientation import ExitReason, Orientation, OrientationStatus, RefusalReason, Stay
from models.person import NameWord, Person, PersonMerge, Sex
from models.situation import SituationRecord
from models.structure import Place, PlaceType

__all__ = [
    "AccessEvent",
    "Accompaniment",
    "AccompanimentEndReason",
    "AccompanimentRole",
    "Attachment",
    "AuditEvent",
    "Base",
    "DeepSection",
    "Demand",
    "DemandKind",
    "DemandPerson",
    "DemandStatus",
    "Evaluation",
    "EvaluationKind",
    "ExitReason",
    "FlashCriterion",
    "Household",
    "Membership",
    "NameWord",
    "Note",
    "NotePerson",
    "Organisation",
    "OrganisationKind",
    "Orientation",
    "OrientationStatus",
    "Person",
    "PersonMerge",
    "Place",
    "PlaceType",
    "RefusalReason",
    "Relationship",
    "Sex",
    "SituationRecord",
    "Stay",
    "Territory",
    "User",
]
