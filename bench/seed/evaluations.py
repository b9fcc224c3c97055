"""The evaluations of the households and their audit events.

Evaluations (~0.6 per household): a FLASH one by the territory's SIAO operator (the 115)
2 to 12 minutes after three emergency demands in four, over the persons the demand
concerns: CHILDREN_UNDER_3 and ELDERLY from their ages, the other criteria drawn
(STREET_TONIGHT 55%, NO_RESOURCES 35%, VIOLENCE 6%, 60% in a protected household...), the
level 1 (low) plus one per criterion, up to 4 (very high), as the schema reads it and the
demo data draws it. A DEEP one by the accompanying social worker after seven insertion
demands in ten, in office hours before the demand's commission date, when the household
is accompanied by then: five or six sections (`familySituation` after the household's
shape, always a `recommendation`). Each has its audit CREATE (kind, level and criteria,
or sections, as `resolvers.evaluation_write` writes it).
"""

from __future__ import annotations

from typing import Final

import orjson

from bench.seed.draw import _randint
from bench.seed.names import _nfc
from bench.seed.state import Record, _Chunk, _GeneratorState
from bench.seed.times import _office_time, _pg_day, _pg_ts
from bench.seed.values import (
    CHILDREN_UNDER_3,
    DEEP,
    ELDERLY,
    EMERGENCY,
    FAMILY_SITUATION,
    FLASH,
    RECOMMENDATION,
    VIOLENCE,
)
from models.evaluation import DeepSection, FlashCriterion

FLASH_RATE = 0.75  # of emergency demands, evaluated by the 115 during the call
DEEP_RATE = 0.7  # of insertion demands of an accompanied household, by its social worker

# Deep evaluations: one text per section (familySituation after the household's shape).
FAMILY_TEXTS: Final = (
    _nfc(
        "Personne isolée, liens familiaux distendus.|"
        "Personne seule, sans enfant ; un frère en région parisienne.|"
        "Personne isolée, arrivée en France il y a deux ans."
    ),
    _nfc(
        "Couple sans enfant, ensemble depuis plusieurs années.|"
        "Couple ; Madame est enceinte de cinq mois."
    ),
    _nfc(
        "Famille monoparentale ; les enfants sont scolarisés dans le quartier.|"
        "Mère seule avec ses enfants, le père ne participe pas aux charges.|"
        "Père seul avec ses enfants depuis la séparation."
    ),
    _nfc(
        "Couple avec enfants : la famille souhaite rester unie.|"
        "Couple avec enfants scolarisés ; le plus jeune est suivi en PMI."
    ),
    _nfc(
        "Famille élargie : le ménage héberge un parent âgé.|"
        "Plusieurs adultes apparentés qui souhaitent rester ensemble."
    ),
)
SECTION_TEXTS: Final = {
    DeepSection.HOUSING_PATH.value: _nfc(
        "Hébergée chez un tiers depuis plusieurs mois après une expulsion locative.|"
        "Alternance entre la rue et les nuitées du 115 depuis l'automne.|"
        "Sortie de CHU, en attente d'une place en structure d'insertion.|"
        "Locataire du parc privé jusqu'à l'an dernier ; impayés après une perte d'emploi.|"
        "À la rue depuis deux semaines après une séparation.|"
        "Hébergement à l'hôtel social depuis plus d'un an.|"
        "Sortie d'hospitalisation sans solution d'hébergement."
    ),
    DeepSection.RESOURCES.value: _nfc(
        "RSA et allocations familiales.|"
        "Salaire à temps partiel (CDD de six mois).|"
        "Aucune ressource : ouverture des droits en cours.|"
        "Allocation chômage jusqu'à la fin de l'année.|"
        "Allocation aux adultes handicapés.|"
        "Pension de retraite et aide au logement."
    ),
    DeepSection.HEALTH.value: _nfc(
        "Suivi médical régulier, pas de besoin particulier signalé.|"
        "Suivi en PMI pour le plus jeune enfant.|"
        "Traitement en cours : un hébergement stable est nécessaire.|"
        "Droits à la complémentaire santé solidaire ouverts.|"
        "Suivi psychologique au CMP."
    ),
    DeepSection.SOCIAL_SUPPORT.value: _nfc(
        "Accompagnement global par l'association depuis l'ouverture du dossier.|"
        "Lien avec le CCAS et l'assistante sociale de secteur.|"
        "Domiciliation au CCAS, suivi par l'équipe mobile.|"
        "Mesure d'accompagnement social lié au logement (ASLL) en cours."
    ),
    DeepSection.RECOMMENDATION.value: _nfc(
        "Orientation vers un CHRS d'insertion.|"
        "Logement adapté (pension de famille) à envisager.|"
        "Demande d'insertion au SIAO, priorité haute.|"
        "Accès direct au logement (Logement d'abord).|"
        "Résidence sociale, le ménage ayant des ressources stables."
    ),
}
SECTION_ORDER: Final = tuple(s.value for s in DeepSection)
CRITERIA_ORDER: Final = tuple(c.value for c in FlashCriterion)
# Flash criteria that nothing in the data decides, and their odds at a 115 call (the ages
# decide CHILDREN_UNDER_3 and ELDERLY).
DRAWN_CRITERIA: Final = {
    FlashCriterion.PREGNANCY.value: 0.06,
    FlashCriterion.HEALTH_ISSUE.value: 0.15,
    FlashCriterion.DISABILITY.value: 0.05,
    FlashCriterion.VIOLENCE.value: 0.06,
    FlashCriterion.STREET_TONIGHT.value: 0.55,
    FlashCriterion.NO_RESOURCES.value: 0.35,
}


class _Evaluations(_GeneratorState):
    """The evaluations of a household, once its members and demands are known."""

    def evaluations(
        self,
        chunk: _Chunk,
        i: int,
        accompanied: tuple[int, int, int] | None,
        made: list[tuple[int, str, list[str]]],
        protected: bool,
    ) -> int:
        """The evaluations of the household `i` of the chunk and their audit events: a flash
        evaluation by the 115 (the territory's SIAO operator) during the call of most
        emergency demands, of the persons it concerns; a deep one by the accompanying social
        worker after most insertion demands, before their commission (14 days later), when
        the household is accompanied by then. The time of the latest (0: none)."""
        rnd, new_id, dumps = self.rng.random, self.new_id, orjson.dumps
        rows = chunk.rows
        v_rows, e_rows = rows["evaluations"], rows["audit_events"]
        hid, staff, born = chunk.ids[i], self.staff[chunk.codes[i]], chunk.born
        latest = 0
        for when, kind, concerned in made:
            if kind == EMERGENCY:
                if rnd() >= FLASH_RATE:
                    continue
                at = when + _randint(rnd, 2, 12) * 60
                if at >= self.end_ts:
                    at = when
                day = _pg_day(at)
                ages = [day - born[pid] for pid in concerned]  # in days
                chosen = {
                    criterion
                    for criterion, odds in DRAWN_CRITERIA.items()
                    if rnd() < (0.6 if protected and criterion == VIOLENCE else odds)
                }
                if min(ages) < 3 * 365 + 1:
                    chosen.add(CHILDREN_UNDER_3)
                if max(ages) >= 65 * 365 + 16:
                    chosen.add(ELDERLY)
                criteria = [c for c in CRITERIA_ORDER if c in chosen]
                # 1 (low) to 4 (very high): one level up per criterion, from 1 (or 2).
                level = min(4, 1 + len(criteria) + (rnd() < 0.25))
                eid, author = new_id(), staff.operator
                values: dict[str, object] = {
                    "criteria": criteria,
                    "kind": FLASH,
                    "vulnerabilityLevel": level,
                }
                row: Record = (eid, hid, FLASH, level, criteria, None)
            elif accompanied is not None and rnd() < DEEP_RATE:
                k, since, until = accompanied
                # The demand's commission meets 14 days later (its commission_date).
                commission = self.base_ts + ((when - self.base_ts) // 86400 + 14) * 86400
                found = _office_time(
                    rnd, self.base_ts, max(when, since), min(commission, until, self.end_ts)
                )
                if found is None:
                    continue
                at, sections = found, {}
                for key in SECTION_ORDER:
                    if key == FAMILY_SITUATION:
                        texts = FAMILY_TEXTS[chunk.families[i]]
                    elif key == RECOMMENDATION or rnd() < 0.85:
                        texts = SECTION_TEXTS[key]
                    else:
                        continue
                    sections[key] = texts[int(rnd() * len(texts))]
                eid, author = new_id(), staff.social_workers[k]
                values = {"kind": DEEP, "sections": sections}
                row = (eid, hid, DEEP, None, None, dumps(sections).decode())
            else:
                continue
            ts = _pg_ts(at)
            v_rows.append((*row, ts, author))
            changes = {name: {"after": value, "before": None} for name, value in values.items()}
            e_rows.append(self.event(ts, author, "CREATE", "Evaluation", eid, hid, changes))
            latest = max(latest, at)
        return latest
