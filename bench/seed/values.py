"""The enum values the generator writes, as plain strings: enum attribute access is slow
in its loops."""

from __future__ import annotations

from models.demand import DemandKind, DemandStatus
from models.evaluation import DeepSection, EvaluationKind, FlashCriterion
from models.household import Relationship
from models.person import Sex

R = Relationship
REFERENCE_PERSON, SPOUSE, CHILD, PARENT = (
    R.REFERENCE_PERSON.value,
    R.SPOUSE.value,
    R.CHILD.value,
    R.PARENT.value,
)
SIBLING, OTHER_RELATIVE, OTHER = R.SIBLING.value, R.OTHER_RELATIVE.value, R.OTHER.value
FEMALE, MALE, UNSPECIFIED = Sex.FEMALE.value, Sex.MALE.value, Sex.UNSPECIFIED.value
EMERGENCY, INSERTION = DemandKind.EMERGENCY.value, DemandKind.INSERTION.value
DRAFT = DemandStatus.DRAFT.value
FLASH, DEEP = EvaluationKind.FLASH.value, EvaluationKind.DEEP.value
CHILDREN_UNDER_3, ELDERLY, VIOLENCE = (
    FlashCriterion.CHILDREN_UNDER_3.value,
    FlashCriterion.ELDERLY.value,
    FlashCriterion.VIOLENCE.value,
)
FAMILY_SITUATION, RECOMMENDATION = (
    DeepSection.FAMILY_SITUATION.value,
    DeepSection.RECOMMENDATION.value,
)

# The household's shape, for the family situation of its deep evaluations.
ISOLATED, COUPLE, SINGLE_PARENT, FAMILY, EXTENDED = range(5)
