"""The demand lifecycle as an explicit state machine: the one place that says which action
moves a demand from which statuses to which status. Mutations ask `transition()`; the
docs' diagram is generated from `TRANSITIONS` (`siao lifecycle`).

    DRAFT -> SUBMITTED -> IN_REVIEW -> ORIENTED -> ACCEPTED -> IN_STAY -> CLOSED
    ORIENTED -> REFUSED (the structure refused) -> SUBMITTED or ORIENTED again
    emergency, for a night: SUBMITTED | IN_REVIEW -> PLACED | UNMET
    CANCELLED from any status before a stay; CLOSED when no longer needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from auth.policy import DemandAction
from models.demand import DemandKind, DemandStatus

S = DemandStatus


@dataclass(frozen=True)
class Transition:
    sources: frozenset[DemandStatus]
    target: DemandStatus
    kinds: frozenset[DemandKind] = frozenset(DemandKind)


def _t(sources: set[DemandStatus], target: DemandStatus, *kinds: DemandKind) -> Transition:
    return Transition(frozenset(sources), target, frozenset(kinds) or frozenset(DemandKind))


TRANSITIONS: dict[DemandAction, Transition] = {
    DemandAction.SUBMIT: _t({S.DRAFT, S.REFUSED}, S.SUBMITTED),
    DemandAction.REVIEW: _t({S.SUBMITTED}, S.IN_REVIEW),
    DemandAction.ORIENT: _t({S.SUBMITTED, S.IN_REVIEW, S.REFUSED}, S.ORIENTED),
    DemandAction.ACCEPT: _t({S.ORIENTED}, S.ACCEPTED),
    DemandAction.REFUSE: _t({S.ORIENTED}, S.REFUSED),
    DemandAction.ADMIT: _t({S.ACCEPTED}, S.IN_STAY),
    DemandAction.EXIT: _t({S.IN_STAY, S.PLACED}, S.CLOSED),
    DemandAction.CLOSE: _t({S.SUBMITTED, S.IN_REVIEW, S.REFUSED, S.PLACED, S.UNMET}, S.CLOSED),
    DemandAction.CANCEL: _t(
        {S.DRAFT, S.SUBMITTED, S.IN_REVIEW, S.ORIENTED, S.ACCEPTED, S.REFUSED}, S.CANCELLED
    ),
    DemandAction.PLACE: _t({S.SUBMITTED, S.IN_REVIEW}, S.PLACED, DemandKind.EMERGENCY),
    DemandAction.UNMET: _t({S.SUBMITTED, S.IN_REVIEW}, S.UNMET, DemandKind.EMERGENCY),
}


class InvalidTransition(Exception):
    def __init__(self, action: DemandAction, current: DemandStatus, kind: DemandKind) -> None:
        self.action, self.current, self.kind = action, current, kind
        rule = TRANSITIONS[action]
        if kind not in rule.kinds:
            why = f"{action.value} applies to {', '.join(sorted(rule.kinds))} demands only"
        else:
            allowed = ", ".join(sorted(rule.sources))
            why = f"{action.value} needs a demand in {allowed}"
        super().__init__(f"The demand is {current.value}: {why}.")


def transition(action: DemandAction, current: DemandStatus, kind: DemandKind) -> DemandStatus:
    """The status after `action`, or InvalidTransition naming the current status."""
    rule = TRANSITIONS[action]
    if current not in rule.sources or kind not in rule.kinds:
        raise InvalidTransition(action, current, kind)
    return rule.target


def mermaid() -> str:
    """The state machine as a Mermaid diagram (docs/demand-lifecycle.md)."""
    lines = ["stateDiagram-v2", "    [*] --> DRAFT", "    [*] --> SUBMITTED"]
    for action, rule in TRANSITIONS.items():
        only = "" if rule.kinds == frozenset(DemandKind) else " (emergency)"
        for source in sorted(rule.sources):
            lines.append(f"    {source.value} --> {rule.target.value}: {action.value}{only}")
    lines += ["    CLOSED --> [*]", "    CANCELLED --> [*]", "    UNMET --> [*]"]
    return "\n".join(lines) + "\n"
