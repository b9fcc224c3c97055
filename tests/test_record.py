"""The household record ("fiche ménage"): one query per tab of the screen, each with the
header, answered without error and at a statement count that depends on the query only
(the counts the README shows)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from models.demo import FIRST_75_REFERENCE
from tests.conftest import Run

Viewer = Callable[[str | None], Run]

HEADER = """
fragment Header on Household {
  reference version
  summary {
    memberCount referencePerson { firstName lastName } openDemands latestFlashLevel
    pinnedNotes { id title pinnedUntil } lastSavedAt
  }
}"""
MENAGE = (
    """
query Menage($ref: String!) {
  household(reference: $ref) {
    ...Header
    territory { code name }
    members { relationship validFrom person { id firstName lastName birthDate sex } }
    demands(first: 5) { totalCount edges { node { kind status priority createdAt night } } }
  }
}"""
    + HEADER
)
IDENTITE = (
    """
query Identite($ref: String!) {
  household(reference: $ref) {
    ...Header
    members {
      relationship validFrom
      person { id version firstName lastName usageName birthDate sex nationality phone }
    }
    memberHistory { relationship validFrom validTo person { firstName lastName } }
  }
}"""
    + HEADER
)
SITUATION = (
    """
query SituationDuMenage($ref: String!) {
  household(reference: $ref) {
    ...Header
    situation {
      housingSteps {
        version savedAt savedBy { displayName }
        socialHousingNumber socialHousingAppliedOn daloStatus daloFiledOn daloDecidedOn comment
      }
      housingPrecarity {
        version savedAt livingSituation since evictionProcedure evictionDate comment
      }
      budget {
        version savedAt
        resources { kind amount label } charges { kind amount label }
        totalResources totalCharges balance debts overindebtednessFile comment
      }
      violence { version savedAt victim kinds protectionOrder protected comment }
      attachments {
        id fileName section contentType size createdAt createdBy { displayName }
        person { firstName }
      }
      members {
        person { id firstName lastName }
        activity { version savedAt status since registeredJobSeeker comment }
        administrative { version savedAt residenceStatus permitExpiresOn hasIdentityDocument }
        medicoSocial {
          version savedAt healthCoverage pregnant dueDate disability disabilityRecognised
          addiction followUp
        }
      }
    }
  }
}"""
    + HEADER
)
EVALUATIONS = (
    """
query Evaluations($ref: String!) {
  household(reference: $ref) {
    ...Header
    flash: latestEvaluation(kind: FLASH) {
      vulnerabilityLevel criteria createdAt author { displayName }
    }
    deep: latestEvaluation(kind: DEEP) {
      sections createdAt author { displayName organisation { name } }
    }
    evaluations(first: 10) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { node { id kind vulnerabilityLevel createdAt author { displayName } } }
    }
  }
}"""
    + HEADER
)
NOTES = (
    """
query Notes($ref: String!, $filter: NoteFilter) {
  household(reference: $ref) {
    ...Header
    members { person { id firstName lastName } }
    notes(first: 20, filter: $filter) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { node {
        id title body isPinned pinnedUntil createdAt version
        author { id displayName } concernedPersons { id firstName }
      } }
    }
  }
}"""
    + HEADER
)
SUIVI = (
    """
query SuiviDesModifications($ref: String!, $filter: AuditFilter) {
  household(reference: $ref) {
    ...Header
    auditEvents(first: 20, filter: $filter) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { node {
        at action entityType entityId changes actor { displayName organisation { name } }
      } }
    }
  }
}"""
    + HEADER
)

# tab -> (query, its statements: one per relation the query reaches, plus the access log's
# one INSERT, as the header's pinned notes are a logged category). A relation with nothing
# to load costs nothing (the notes' authors when the viewer wrote them all, whose row is
# already loaded): a household may cost less, never more.
TABS: dict[str, tuple[str, int]] = {
    "Ménage": (MENAGE, 10),
    "Identité": (IDENTITE, 7),
    "Situation du ménage": (SITUATION, 11),
    "Évaluations": (EVALUATIONS, 11),
    "Notes": (NOTES, 11),
    "Suivi des modifications": (SUIVI, 11),
}


@pytest.mark.parametrize("tab", list(TABS))
async def test_each_tab_is_one_query_at_a_fixed_cost(as_user: Viewer, tab: str) -> None:
    query, statements = TABS[tab]
    alpha = as_user("sw.alpha@demo.siao")  # accompanies these households: reads every tab
    costs = []
    for ref in (FIRST_75_REFERENCE, "7500000002", "7500000040"):
        answer = await alpha(query, ref=ref)
        assert answer.errors == [], answer.errors
        assert answer.data is not None
        assert answer.data["household"]["summary"]["memberCount"] > 0
        costs.append(answer.extensions["sql"]["statements"])
    print(f"{tab}: {costs} statements")  # noqa: T201
    assert max(costs) == statements
