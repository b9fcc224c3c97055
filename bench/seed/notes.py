"""The notes of the households, the persons they concern and their audit events.

Notes (~1.0 per household, 0.45 per person): 2.5 on average for an accompanied household
(0 to 5), 0.4 for the others (0 to 2). Seven in ten of an accompanied household's notes
are its social worker's, in office hours while the accompaniment lasts (appointments at
the CAF or the préfecture, documents obtained, health, school, budget, DALO...); the
others are the territory's SIAO operator's, after one of its demands: the evening of an
emergency demand, the 115's note on the call (six times in ten), else within the month
(extended nights, commission, orientation...). A title (24 of them), and a body of one
to three sentences drawn from precomputed fragments (48 first sentences, ~360 once their
days and hours are filled in at import; one of 18 second ones six times in ten, a
closing one now and then; 90 characters on average); 35% concern one member present at
the time (a quarter of those two), the others the whole household; 4% pinned by their
author as they are written, for 7 to 90 days; 1.5% deleted (soft) by their author
within three days. Each has its audit CREATE (title, body, concerned persons, as
`resolvers.note_write` writes it), and a PIN or DELETE event when pinned or deleted;
all before END.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Final

from bench.seed.draw import _randint
from bench.seed.state import _Chunk, _dashed, _GeneratorState
from bench.seed.times import _iso, _office_time, _pg_ts
from bench.seed.values import EMERGENCY

DAYS: Final = ("lundi", "mardi", "mercredi", "jeudi", "vendredi")
HOURS: Final = ("9 h", "9 h 30", "10 h", "11 h", "14 h", "14 h 30", "15 h 30", "16 h")
EVENING: Final = ("19 h", "20 h 30", "21 h", "22 h 15", "23 h")
LANGUAGES: Final = ("arabe", "anglais", "tigrigna", "dari", "roumain", "peul", "pachto")
Fragments = tuple[tuple[str, tuple[str, ...]], ...]


def _fragments(*pairs: tuple[str, str]) -> Fragments:
    """(title, every spelling of a sentence): its {day}, {hour}, {evening} and {language}
    filled in every way, once, at import (the generator then only draws indexes)."""
    out = []
    for title, template in pairs:
        texts = [unicodedata.normalize("NFC", template)]
        for slot, values in (
            ("{day}", DAYS),
            ("{hour}", HOURS),
            ("{evening}", EVENING),
            ("{language}", LANGUAGES),
        ):
            if slot in template:
                texts = [t.replace(slot, v, 1) for t in texts for v in values]
        out.append((unicodedata.normalize("NFC", title), tuple(texts)))
    return tuple(out)


# What a social worker writes (title, first sentence), in office hours.
SW_NOTES: Final = _fragments(
    ("Rendez-vous CAF", "Rendez-vous pris à la CAF {day} à {hour} pour la mise à jour du dossier."),
    (
        "Rendez-vous CAF",
        "Accompagnement à la CAF {day} : le dossier d'aide au logement est complet.",
    ),
    ("Rendez-vous CPAM", "Rendez-vous à la CPAM {day} à {hour} pour la complémentaire santé."),
    ("Rendez-vous préfecture", "Rendez-vous en préfecture {day} à {hour} pour le titre de séjour."),
    ("Titre de séjour", "Récépissé de demande de titre de séjour obtenu, valable trois mois."),
    ("Documents obtenus", "Actes de naissance des enfants obtenus auprès de la mairie."),
    (
        "Documents obtenus",
        "Avis d'imposition récupéré : il manquait à la demande de logement social.",
    ),
    ("Documents obtenus", "Attestation d'élection de domicile au CCAS remise ce jour."),
    ("Documents obtenus", "Carte Vitale reçue à l'adresse de domiciliation."),
    ("Ouverture des droits", "Demande de RSA déposée, premier versement attendu le mois prochain."),
    ("Ouverture des droits", "Dossier de prime d'activité déposé en ligne avec Madame."),
    ("Point budget", "Point budget : la dette locative s'élève à environ 2 000 euros."),
    ("Point budget", "Dossier de surendettement en préparation avec la conseillère ESF."),
    ("Suivi santé", "Rendez-vous médical {day} à {hour} au centre de santé, accompagnement prévu."),
    ("Suivi santé", "Suivi en PMI pour le plus jeune enfant, vaccinations à jour."),
    ("Suivi santé", "Monsieur a été hospitalisé la semaine dernière ; sortie prévue {day}."),
    ("Suivi santé", "Orientation vers la PASS de l'hôpital pour une consultation."),
    (
        "Scolarisation",
        "Les enfants sont inscrits à l'école du quartier ; la cantine est prise en charge.",
    ),
    (
        "Scolarisation",
        "Inscription scolaire en cours : la mairie demande une attestation d'hébergement.",
    ),
    (
        "Visite à domicile",
        "Visite à l'hôtel : chambre trop petite pour la famille, humidité importante.",
    ),
    ("Visite à domicile", "Visite à domicile {day} : la famille est bien installée."),
    ("Demande de logement social", "Demande de logement social renouvelée, numéro unique à jour."),
    ("Dossier DALO", "Recours DALO déposé ; en attente de la commission de médiation."),
    ("Dossier DALO", "Ménage reconnu prioritaire et urgent au titre du DALO."),
    ("Emploi", "Inscription à France Travail faite ; premier entretien {day} à {hour}."),
    ("Emploi", "Monsieur a signé un CDD de six mois comme agent d'entretien."),
    ("Nouveau numéro de téléphone", "Madame a changé de numéro : le nouveau est dans la fiche."),
    ("Entretien", "Entretien au bureau {day} : le ménage souhaite rester dans le département."),
    ("Entretien", "Personne absente à l'entretien ; nouveau rendez-vous {day} à {hour}."),
)
# What the SIAO writes in the day (regulation, coordination).
SIAO_NOTES: Final = _fragments(
    ("Hébergement d'urgence", "Hébergement d'urgence prolongé d'une semaine ; point {day}."),
    ("Hébergement d'urgence", "Nuitées hôtelières accordées jusqu'à {day} prochain."),
    ("Hébergement d'urgence", "L'hôtel signale la fin de la prise en charge."),
    ("Maraude", "Rencontré par la maraude près de la gare, orienté vers l'accueil de jour."),
    ("Suivi de l'orientation", "Orientation au CHRS : entretien de pré-admission {day} à {hour}."),
    (
        "Suivi de l'orientation",
        "Refus de la structure : la place ne convient pas à la composition.",
    ),
    ("Commission SIAO", "Situation présentée en commission {day} ; dossier à compléter."),
    ("Commission SIAO", "Demande validée en commission, en attente d'une place adaptée."),
    ("Relance du bailleur", "Relance envoyée au bailleur social sur la proposition de logement."),
    ("Mise à jour du dossier", "Composition du ménage vérifiée avec Madame au téléphone."),
    ("Signalement", "Signalement du CCAS : la famille dort dans sa voiture."),
)
# What the 115 writes the evening of an emergency demand.
CALL_NOTES: Final = _fragments(
    ("Appel du 115", "Appel au 115 à {evening} : pas de place disponible ce soir."),
    ("Appel du 115", "Appel au 115 à {evening} : mise à l'abri pour la nuit au gymnase."),
    ("Appel du 115", "Appel au 115 : place trouvée en CHU pour trois nuits."),
    ("Appel du 115", "Pas de réponse au rappel du 115, message laissé."),
    ("Appel du 115", "Appel au 115 : la famille a dormi chez une amie hier soir."),
    ("Mise à l'abri", "Mise à l'abri à l'hôtel pour la nuit, taxi pris en charge."),
    ("Mise à l'abri", "Orientation vers la halte de nuit, arrivée confirmée à {evening}."),
)
# A second sentence (often) and a third (now and then), whoever writes.
FOLLOW_UPS: Final = _fragments(
    ("", "Rappeler ce soir."),
    ("", "À revoir {day}."),
    ("", "Faire le point {day} à {hour}."),
    ("", "Le ménage a été informé."),
    ("", "Dossier transmis au SIAO."),
    ("", "Prévenir l'assistante sociale de secteur."),
    ("", "Copie des documents dans le dossier."),
    ("", "Madame est d'accord."),
    ("", "Monsieur est d'accord pour la démarche."),
    ("", "En attente de la réponse de la CAF."),
    ("", "Relance prévue dans quinze jours."),
    ("", "Interprète nécessaire pour le prochain entretien ({language})."),
    ("", "Pas d'autre changement dans la situation."),
    ("", "Joignable sur le portable de Madame."),
    ("", "La situation reste très précaire."),
    ("", "Situation stable depuis le dernier point."),
    ("", "Informations transmises à la structure."),
    ("", "Proposer une orientation vers l'accueil de jour."),
)
CLOSINGS: Final = _fragments(
    ("", "Merci de me tenir informée."),
    ("", "Je reste disponible pour en parler."),
    ("", "Pour information."),
    ("", "Urgent."),
    ("", "Voir la note précédente."),
)
# Notes per household: accompanied ones (mean 2.5) and the others (mean 0.4).
NOTE_COUNTS_ACCOMPANIED: Final = (0, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5)
NOTE_COUNTS_OTHERS: Final = (0, 0, 0, 0, 0, 0, 0, 1, 1, 2)
NOTE_CONCERNS = 0.35  # a note concerns one member (sometimes two), else the whole household
NOTE_PINNED = 0.04
NOTE_DELETED = 0.015


class _Notes(_GeneratorState):
    """The notes of a household, once its members and demands are known."""

    def notes(
        self,
        chunk: _Chunk,
        i: int,
        accompanied: tuple[int, int, int] | None,
        made: list[tuple[int, str, list[str]]],
    ) -> int:
        """The notes of the household `i` of the chunk, their concerned persons and audit
        events: by its social worker while accompanied (office hours), or by the SIAO
        operator after one of its demands (the evening of an emergency demand, the 115's
        note on the call; or in the following month). The time of the latest (0: none)."""
        rnd, new_id = self.rng.random, self.new_id
        counts = NOTE_COUNTS_OTHERS if accompanied is None else NOTE_COUNTS_ACCOMPANIED
        count = counts[int(rnd() * len(counts))]
        if not count:
            return 0
        rows = chunk.rows
        n_rows, np_rows, e_rows = rows["notes"], rows["note_persons"], rows["audit_events"]
        hid, staff, members = chunk.ids[i], self.staff[chunk.codes[i]], chunk.members[i]
        horizon = self.end_ts - 7 * 86400  # leaves room for the deletion of a note
        latest = 0
        for _ in range(count):
            at: int | None
            if accompanied is not None and rnd() < 0.7:
                k, since, until = accompanied
                author, fragments = staff.social_workers[k], SW_NOTES
                at = _office_time(rnd, self.base_ts, since, min(until, horizon))
            else:
                author = staff.operator
                when, kind, _ = made[int(rnd() * len(made))]
                if kind == EMERGENCY and rnd() < 0.6:
                    at, fragments = when + _randint(rnd, 5, 90) * 60, CALL_NOTES
                else:
                    at = _office_time(rnd, self.base_ts, when, when + 30 * 86400)
                    fragments = SIAO_NOTES
                if at is not None and at >= horizon:
                    at = None
            if at is None:
                continue
            title, texts = fragments[int(rnd() * len(fragments))]
            body = texts[int(rnd() * len(texts))]
            if rnd() < 0.6:
                body += " " + _text(rnd, FOLLOW_UPS)
                if rnd() < 0.3:
                    body += " " + _text(rnd, CLOSINGS)
            concerned: list[str] = []
            if rnd() < NOTE_CONCERNS:
                present = [p for p, lower, upper in members if lower <= at < (upper or at + 1)]
                concerned.append(present[int(rnd() * len(present))])
                if len(present) > 1 and rnd() < 0.25:
                    other = present[int(rnd() * len(present))]
                    if other != concerned[0]:
                        concerned.append(other)
            nid, ts = new_id(), _pg_ts(at)
            pinned = _randint(rnd, 7, 90) * 86400 + at if rnd() < NOTE_PINNED else 0
            deleted = _randint(rnd, 1, 72) * 3600 + at if rnd() < NOTE_DELETED else 0
            n_rows.append(
                (
                    nid,
                    hid,
                    title,
                    body,
                    _pg_ts(pinned) if pinned else None,
                    ts if pinned else None,
                    author if pinned else None,
                    _pg_ts(deleted) if deleted else None,
                    author if deleted else None,
                    ts,
                    _pg_ts(deleted) if deleted else ts,
                    author,
                    1,
                )
            )
            np_rows += [(nid, pid) for pid in concerned]
            changes = {
                "body": {"after": body, "before": None},
                "concernedPersons": {"after": sorted(map(_dashed, concerned)), "before": None},
                "title": {"after": title, "before": None},
            }
            e_rows.append(self.event(ts, author, "CREATE", "Note", nid, hid, changes))
            if pinned:  # pinned as it was written, by its author
                changes = {"pinnedUntil": {"after": _iso(pinned), "before": None}}
                e_rows.append(self.event(ts, author, "PIN", "Note", nid, hid, changes))
            if deleted:  # by its author (no one else may), within three days
                changes = {"deletedAt": {"after": _iso(deleted), "before": None}}
                e_rows.append(
                    self.event(_pg_ts(deleted), author, "DELETE", "Note", nid, hid, changes)
                )
            latest = max(latest, at, deleted)
        return latest


def _text(rnd: Callable[[], float], fragments: Fragments) -> str:
    """One spelling of one sentence of `fragments` (each sentence as likely)."""
    texts = fragments[int(rnd() * len(fragments))][1]
    return texts[int(rnd() * len(texts))]
