"""The benchmark's data generator: a realistic French dataset, straight into PostgreSQL.

`await seed(url, persons)` adds, in ONE transaction, households of realistic sizes until
exactly `persons` new persons exist, with their memberships, accompaniments, demands,
concerned persons, notes, evaluations and audit events, to a database migrated to head
(the caller runs `migrations.upgrade(url)` first). Rows are built as tuples in Python and
sent with `COPY` (`asyncpg`'s `copy_records_to_table`), in chunks of at most `CHUNK_HOUSEHOLDS`
households; the next chunk is generated while the server digests the previous one. The
client's memory peaks at about 400 MB (two full chunks, from ~150,000 persons on).

What the data looks like
- Territories (default 75, 93, 13, 69, 59; inserted if missing), and per territory one
  SIAO with one operator (`bench.siao.<code>@bench.siao`) and three associations with one
  social worker each (`bench.sw.<code>.<n>@bench.siao`).
- Households of 1 to 8 members (mostly 1 to 3, as in the demo data): single adults,
  couples, single parents (mostly mothers), couples with children, extended families; ages
  that fit the relationships (children at least 16 years younger than their parents,
  parents of the reference person older...); created in chronological order (the heap
  follows time, as in production) from 2022-01-03 to 2026-09, in Paris working hours.
- Names from several origins (French, Maghreb, West Africa, Horn of Africa, Middle East,
  Eastern Europe, Turkey, Asia), each family its own, with a skewed frequency: Martin,
  Diallo or Benali come back about once per hundred persons, Mamadou Diallo hundreds of
  times at a million, and half of the French names come from a long tail of rare
  French-sounding names. Accents (Hélène, Lefèvre, Müller, Şahin), spelling variants
  (Lefèvre/Lefebvre, Traoré/Traore, N'Diaye/Ndiaye), compound names (Jean-Pierre,
  Martin-Dubois, Da Silva, Ben Saïd, the double names of children born since 2005),
  married women's usage names, and ~4% of last names typed in capitals, as in real files.
- About 2% of persons lived in an earlier household of the same chunk before (a closed
  membership ending when the open one begins, with a relationship that fits their ages);
  ~30% of households are accompanied by an association; ~1.5 demands per household
  (EMERGENCY in the evening with its night, INSERTION in office hours with a recommended
  place type and a commission date, statuses spread as in the demo data), each concerning
  every member present when it was made; an audit CREATE per household and per demand;
  ~1% of households protected (violence). No orientations, stays or places: an ORIENTED
  or IN_STAY demand has no orientation row behind it.
- Notes (~1.0 per household, 0.45 per person): 2.5 on average for an accompanied household
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
- Evaluations (~0.6 per household): a FLASH one by the territory's SIAO operator (the
  115) 2 to 12 minutes after three emergency demands in four, over the persons the demand
  concerns: CHILDREN_UNDER_3 and ELDERLY from their ages, the other criteria drawn
  (STREET_TONIGHT 55%, NO_RESOURCES 35%, VIOLENCE 6%, 60% in a protected household...),
  the level 1 (low) plus one per criterion, up to 4 (very high), as the schema reads it
  and the demo data draws it. A DEEP one by the
  accompanying social worker after seven insertion demands in ten, in office hours before
  the demand's commission date, when the household is accompanied by then: five or six
  sections (`familySituation` after the household's shape, always a `recommendation`).
  Each has its audit CREATE (kind, level and criteria, or sections, as
  `resolvers.evaluation_write` writes it). A household's `last_activity_at` is its latest
  demand, note (or deletion) or evaluation.

Ids. By default (`ids="ordered"`) ids are version-8 UUIDs that count: 16 bits drawn once
per call, a 32-bit counter, the rest drawn once per call. Each table's btree indexes then
grow at their right edge: at a million persons PostgreSQL's CPU is 63-70 s instead of 75 s
with `ids="random"`, version-4 UUIDs like the application's own, whose inserts land
anywhere in every index. The counter must come first: btree_gist's GiST penalty sees a
uuid as a double made of its first 64 bits, so ids that counted in their last bits (the
layout before) all cost the same to it, and the GiST indexes of memberships (the exclusion
constraint by person, the index by household) mixed every key in every subtree: a probe
read ~520 pages instead of ~5 (0.5-0.8 ms instead of 11-90 µs at a million persons), for
the application's queries as for the exclusion check of each insert. Sorting their keys
costs these indexes more (~10 s of PostgreSQL's CPU each at a million persons). Both
layouts come from `random.Random` seeded with `seed` and the starting references below:
the output depends only on `seed` and on what the database already holds.

References are `<territory><number>` (`2A`/`2B` use `20`), numbered from 50,000,000 (8
digits; 5,000,000 and 7 digits after a 3-digit code): the demo data uses numbers 1 to 150,
and `household_reference_seq` would have to pass 7.5 billion (for 75; 150 million for 01)
to reach that range. A second call on the same database continues after the highest bench
reference of each territory (the unique index would refuse any collision anyway).

Invariants. The deferred constraint triggers (every person has an open membership, an
active household a current member, a demand concerns members of its household; the
append-only trigger of evaluations fires on UPDATE only, which the seed never does) and the
foreign keys (triggers too) would check every row one by one: at 200,000 persons that is
about 190 s of PostgreSQL CPU at COMMIT, against 10 s for the whole load without them. So
by default (`checks="sql"`) the load runs with `SET LOCAL session_replication_role =
replica` (every trigger off, for this transaction only), then checks the same rules and
every foreign key of the loaded tables with set-based SQL before COMMIT (about 1.5 s at
200,000 persons, 9 s at a million), and raises `SeedCheckFailed`, rolling everything back,
if one fails. Primary keys, unique and CHECK constraints are enforced as usual, and
exclusion constraints too, on every row at once when the load ends (see Indexes).
`checks="triggers"` keeps the triggers on. So does `checks="sql"` (with a warning) when
the role may not set `session_replication_role` (not a superuser), or when a loaded table
carries a trigger not in `KNOWN_TRIGGERS`, or one whose function's source changed since
these checks were written (it would be skipped, or checked against the old rule).

Indexes. With `checks="sql"`, `bench.seed.indexes` drops the btree and GIN indexes that
back no constraint, and the exclusion constraint of memberships, of the tables that hold
no more rows than the seed adds (a quarter of them for the exclusion constraint), inside
the transaction, and builds them again from the catalog's own definitions when the load
ends, before the checks (the phase "index"). A build from all the rows costs PostgreSQL
less than maintaining the index row by row: at a million persons 3.4 s instead of 6.7 s
for the trigrams of the name key, 0.4 s instead of 2.8 s for the birth dates, 17 s instead
of 24 s for the exclusion constraint, its check of every row included. What a rebuild
would not bring back exactly is kept, and the tables are locked (ACCESS EXCLUSIVE) until
COMMIT; see that module.

Speed, on a 2-vCPU VM shared with other jobs, at a million persons into an empty
PostgreSQL 15 database: 10,200-10,300 persons/s (96.7-97.7 s, then 3.3 s of `vacuum`);
12,400-14,100 before the notes and evaluations. The single backend of the one transaction
is the bottleneck: 90.2 s of its CPU at a million persons (read from /proc), ~55 µs per
person in the load before the notes (the two GiST indexes of memberships, the computed and
trigram-indexed name key of persons, the btree indexes), ~17 µs more for the notes,
evaluations and their audit events (mostly the search vector PostgreSQL computes for each
note, ~29 µs a note), then the index builds and checks. Python needs 29.4 s of CPU on the
other core, with the cyclic garbage collector off during the load (it walked the growing
chunk again and again). Issue #6 asks for 20,000 persons/s: 90.2 + 29.4 s of CPU cannot
fit in 50 s on 2 cores (bench/README.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import random
import re
import socket
import time
import unicodedata
import uuid
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Final, Literal

import asyncpg
import orjson

from auth.policy import Role
from bench.seed import indexes as seed_indexes
from models.demand import DemandKind, DemandStatus
from models.demo import STATUSES as DEMO_STATUSES
from models.evaluation import DeepSection, EvaluationKind, FlashCriterion
from models.household import Relationship
from models.organisation import OrganisationKind
from models.person import Sex
from models.structure import PlaceType

Record = tuple[object, ...]
Checks = Literal["sql", "triggers"]
Ids = Literal["ordered", "random"]
log = logging.getLogger(__name__)

NAMESPACE: Final = uuid.UUID("b3c1a5e0-6f0d-4b8e-9d0a-5eed5eed0001")
PARIS: Final = timezone(timedelta(hours=1))
BASE: Final = datetime(2022, 1, 3, tzinfo=PARIS)  # the first instant of bench data
END: Final = datetime(2026, 10, 1, tzinfo=PARIS)  # the last one; all in the past
SETUP_AT: Final = BASE - timedelta(days=7)  # organisations and users exist before
CHUNK_HOUSEHOLDS: Final = 25_000  # per COPY (~57,000 persons, ~200 MB of rows in Python)
FIRST_CHUNK: Final = 500  # households: the first chunks are small, so the server starts soon
SEND_BUFFER: Final = 4 * 1024 * 1024  # bytes the kernel may queue for the server
SLICE_HOUSEHOLDS: Final = 100  # generated between two turns of the event loop (~4 ms)
ID_COUNTER_LIMIT: Final = 2**32 - 2**24  # ordered ids: the counter's 32 bits, less a margin
LOCK_KEY: Final = 7_593_000_002  # pg_advisory_xact_lock: two seeds run one after the other
REQUEST_ID: Final = "bench-seed"
TERRITORY_CODE = re.compile(r"^(\d{2}|2A|2B|\d{3})$")

TERRITORY_NAMES: Final = {
    "06": "Alpes-Maritimes",
    "13": "Bouches-du-Rhône",
    "2A": "Corse-du-Sud",
    "2B": "Haute-Corse",
    "31": "Haute-Garonne",
    "33": "Gironde",
    "34": "Hérault",
    "35": "Ille-et-Vilaine",
    "38": "Isère",
    "44": "Loire-Atlantique",
    "59": "Nord",
    "62": "Pas-de-Calais",
    "67": "Bas-Rhin",
    "69": "Rhône",
    "75": "Paris",
    "76": "Seine-Maritime",
    "77": "Seine-et-Marne",
    "78": "Yvelines",
    "91": "Essonne",
    "92": "Hauts-de-Seine",
    "93": "Seine-Saint-Denis",
    "94": "Val-de-Marne",
    "95": "Val-d'Oise",
    "971": "Guadeloupe",
    "972": "Martinique",
    "973": "Guyane",
    "974": "La Réunion",
    "976": "Mayotte",
}
# Relative number of households per territory (unknown codes weigh 10).
TERRITORY_WEIGHTS: Final = {"75": 30, "93": 22, "13": 16, "69": 12, "59": 12, "92": 10, "94": 10}
ASSOCIATIONS: Final = ("Association Horizon", "Accueil Solidarité", "Entraide et Logement")
STAFF_NAMES: Final = (
    "Claire Fontaine",
    "Julien Marchand",
    "Sarah Benhamou",
    "Ousmane Diarra",
    "Élodie Lemoine",
    "Thomas Girard",
    "Nadia Cherif",
    "Lucas Perrin",
)


# --- names ---------------------------------------------------------------------------


def _nfc(names: str) -> tuple[str, ...]:
    """A list of names, one per `|`, in Unicode NFC (what the API stores)."""
    return tuple(unicodedata.normalize("NFC", n.strip()) for n in names.split("|"))


class Picker:
    """Draws one of `names`: with the given `weights`, or else with Zipf-like weights
    (rank ** -skew, the first names the most common; skew 0: uniform)."""

    def __init__(
        self, names: Sequence[str], skew: float = 0.0, weights: Sequence[float] | None = None
    ) -> None:
        self.names = tuple(names)
        if weights is None:
            weights = [(rank + 1) ** -skew for rank in range(len(self.names))]
        total, cum = 0.0, []
        for w in weights:
            total += w
            cum.append(total)
        self.cum, self.total, self.last = cum, total, len(self.names) - 1

    def __call__(self, rnd: Callable[[], float]) -> str:
        return self.names[bisect_right(self.cum, rnd() * self.total, 0, self.last)]


# French surnames by decreasing frequency (INSEE), with a few spelling variants.
FRENCH_LAST = _nfc(
    "Martin|Bernard|Thomas|Petit|Robert|Richard|Durand|Dubois|Moreau|Laurent|Simon|Michel|"
    "Lefebvre|Leroy|Roux|David|Bertrand|Morel|Fournier|Girard|Bonnet|Dupont|Lambert|Fontaine|"
    "Rousseau|Vincent|Muller|Lefèvre|Faure|André|Mercier|Blanc|Guérin|Boyer|Garnier|Chevalier|"
    "François|Legrand|Gauthier|Garcia|Perrin|Robin|Clément|Morin|Nicolas|Henry|Roussel|"
    "Mathieu|Gautier|Masson|Marchand|Duval|Denis|Dumont|Marie|Lemaire|Noël|Meyer|Dufour|"
    "Meunier|Brun|Blanchard|Giraud|Joly|Rivière|Lucas|Brunet|Gaillard|Barbier|Arnaud|Martinez|"
    "Gérard|Roche|Renard|Schmitt|Roy|Leroux|Colin|Vidal|Caron|Picard|Roger|Fabre|Aubert|"
    "Lemoine|Renaud|Dumas|Lacroix|Olivier|Philippe|Bourgeois|Pierre|Benoît|Rey|Leclerc|Payet|"
    "Rolland|Leclercq|Guillaume|Lecomte|Lopez|Jean|Dupuy|Guillot|Hubert|Berger|Carpentier|"
    "Sanchez|Dupuis|Moulin|Louis|Deschamps|Huet|Vasseur|Perez|Boucher|Fleury|Royer|Klein|"
    "Jacquet|Adam|Paris|Poirier|Marty|Aubry|Guyot|Carré|Charles|Renault|Charpentier|Ménard|"
    "Maillard|Baron|Bertin|Bailly|Hervé|Schneider|Fernandez|Le Gall|Collet|Léger|Bouvier|"
    "Julien|Prévost|Millet|Perrot|Daniel|Le Roux|Cousin|Germain|Breton|Besson|Langlois|Rémy|"
    "Le Goff|Pelletier|Lévêque|Perrier|Leblanc|Barré|Lebrun|Marchal|Weber|Mallet|Hamon|"
    "Boulanger|Jacob|Monnier|Michaud|Rodriguez|Guichard|Gillet|Étienne|Grondin|Poulain|"
    "Tessier|Chevallier|Collin|Chauvin|Da Silva|Bouchet|Gay|Lemaître|Bénard|Maréchal|Humbert|"
    "Reynaud|Antoine|Hoarau|Perret|Barthélémy|Cordier|Pichon|Lejeune|Gilbert|Lamy|Delaunay|"
    "Pasquier|Carlier|Laporte|Dos Santos|Ferreira|Pereira|Rodrigues|Gonçalves|Fernandes|"
    "Lefebvre|Müller|Benoit|Le Gallou|De Oliveira|Lemaitre|Ribeiro|Texier|Guillou|Riviere"
)
# The long tail: French-sounding names built from syllables (a few thousand, each rare).
TAIL_HEADS = _nfc(
    "Ba|Be|Bo|Bou|Bri|Ca|Cha|Che|Co|Cou|Da|De|Du|Fa|Fe|Fo|Ga|Ge|Gi|Gou|Gui|La|Le|Lo|Ma|Me|"
    "Mo|Mou|Na|Pa|Pe|Po|Ra|Re|Ro|Sa|Se|Ta|Te|Tou|Va|Ve|Vi|Ker|Ber|Mar|Cor|Fon|Mon|Sau"
)
TAIL_MIDDLES = _nfc("|l|n|r|ss|ch|v|t|gn|ill|rr|nd|rd|s")
TAIL_INNER = _nfc("a|e|i|o|ou|au")  # an optional inner syllable: Ba-r-ol-ier
TAIL_INNER_END = _nfc("l|r|n|s|ch|v|t")
TAIL_ENDS = _nfc(
    "et|ier|eau|ard|in|ot|ac|on|ault|ès|ère|y|ois|and|el|ec|ou|as|é|elle|at|aud|ie|ic|eux|"
    "ant|ez|ais|ine|ieux"
)
TAIL_PARTICLES = ("Le ", "La ", "De ", "Du ", "Des ", "de la ", "Le ")
WEST_AFRICA_LAST = _nfc(
    "Diallo|Traoré|Camara|Koné|Coulibaly|Diarra|Touré|Sow|Bah|Barry|Cissé|Keïta|Sylla|Konaté|"
    "N'Diaye|Diop|Fofana|Sissoko|Doumbia|Kanté|Dembélé|Sangaré|Bamba|Ouattara|Kouassi|Kouamé|"
    "Yao|Diakité|Soumaré|Gueye|Fall|Sarr|Ba|Mbaye|Faye|Niang|Seck|Tall|Baldé|Condé|Soumah|"
    "Traore|Ndiaye|Keita|Cisse|Kone|Toure|Sidibé|Magassa|Tandia|Dramé"
)
MAGHREB_LAST = _nfc(
    "Benali|Mansouri|Haddad|Belkacem|Bouzid|Saïdi|Amrani|El Amrani|Ben Saïd|Ben Ahmed|Hamidi|"
    "Bensalem|Boudiaf|Cherif|Chérif|Djebbar|Ferhat|Ghazi|Kaci|Khelifi|Larbi|Mebarki|Meziane|"
    "Ouali|Rahmani|Slimani|Taleb|Zerrouki|Aït Ali|Aït Ouali|Benyahia|Bouaziz|El Idrissi|"
    "Lahlou|Tahiri|Alaoui|Benjelloun|Chaoui|Trabelsi|Jebali|Gharbi|Mejri|Ben Amor|Saidi|"
    "Benaissa|Boukhari|Hamdi|Belhadj|Ben Youssef"
)
HORN_LAST = _nfc(
    "Tesfaye|Tekle|Ghebremedhin|Kebede|Haile|Abraha|Berhe|Gebremariam|Tesfamariam|Woldu|"
    "Hassan|Abdi|Osman|Yusuf|Idriss|Abakar|Mahamat|Ali Hassan|Mohamed Ali|Adam|Ibrahim|"
    "Mussa|Omer|Abdallah|Haroun"
)
MIDDLE_EAST_LAST = _nfc(
    "Ahmadi|Hosseini|Mohammadi|Rahimi|Haidari|Karimi|Noori|Sultani|Safi|Sharifi|Amiri|Azizi|"
    "Habibi|Nazari|Rezaei|Stanekzai|Wardak|Popalzai|Al Hassan|Al Ahmad|Khalil|Darwish|"
    "Al Khatib|Hamdan|Nasser|Saleh|Youssef|Hussaini|Jafari|Sadat"
)
EAST_EUROPE_LAST = _nfc(
    "Popescu|Ionescu|Popa|Stan|Dumitru|Stoica|Constantin|Gheorghe|Radu|Munteanu|Lungu|Rusu|"
    "Ciobanu|Moldovan|Kovač|Horváth|Nowak|Kowalski|Petrov|Shevchenko|Bondarenko|Kovalenko|"
    "Melnyk|Tkachenko|Hasani|Berisha|Krasniqi|Gashi|Hoxha|Kelmendi|Avetisyan|Hovhannisyan|"
    "Grigoryan|Beridze|Kapanadze|Stănescu|Mihăilă|Țurcanu"
)
TURKEY_LAST = _nfc(
    "Yilmaz|Kaya|Demir|Şahin|Çelik|Yildiz|Öztürk|Aydin|Arslan|Doğan|Kiliç|Aslan|Çetin|Koç|"
    "Kurt|Özdemir|Yildirim|Polat"
)
ASIA_LAST = _nfc(
    "Nguyen|Tran|Le|Pham|Hoang|Vo|Dang|Bui|Huynh|Chen|Wang|Li|Zhang|Liu|Huang|Lin|Sok|Chea|"
    "Rahman|Hossain|Islam|Akter|Singh|Kaur|Sivakumar|Tharmalingam|Ravichandran|Nguyễn"
)

# French first names by generation: born before 1966, 1966-1989, 1990-2004, since 2005.
FRENCH_FIRST: Final[dict[Sex, tuple[tuple[str, ...], ...]]] = {
    Sex.MALE: (
        _nfc(
            "Jean|Pierre|Michel|André|Philippe|Alain|Bernard|Jacques|Daniel|Claude|Gérard|"
            "Patrick|René|Christian|Marcel|Serge|Jean-Claude|Jean-Pierre|Jean-Marie|Roger|"
            "Jean-Louis|Robert|Guy|Gilles|Yves|Dominique|Jean-Paul|Georges|Francis|Didier|"
            "Joël|Noël|Maurice|Raymond|Henri|Lucien"
        ),
        _nfc(
            "Christophe|Stéphane|Sébastien|Frédéric|Nicolas|Laurent|David|Julien|Olivier|Éric|"
            "Thierry|Pascal|Cédric|Jérôme|Vincent|Franck|Fabrice|Anthony|Mickaël|Guillaume|"
            "Jean-François|Jean-Philippe|Grégory|Romain|Ludovic|Arnaud|Yannick|Loïc|Benoît|"
            "Hervé|Sylvain|Bruno|Emmanuel|Mathieu|Jean-Christophe|Xavier"
        ),
        _nfc(
            "Thomas|Kévin|Alexandre|Maxime|Quentin|Lucas|Hugo|Florian|Antoine|Théo|Clément|"
            "Valentin|Dylan|Jordan|Bastien|Baptiste|Jean-Baptiste|Mathis|Enzo|Loïc|Axel|"
            "Corentin|Damien|Jérémy|Rémi|Pierre-Louis|Adrien|Killian|Yanis|Kevin|Anthony|"
            "Nicolas|Benjamin|Jonathan|Mathieu"
        ),
        _nfc(
            "Gabriel|Léo|Raphaël|Louis|Arthur|Noah|Jules|Adam|Lucas|Hugo|Nathan|Ethan|Sacha|"
            "Tom|Mohamed|Rayan|Enzo|Théo|Nolan|Timéo|Maël|Liam|Aaron|Paul|Éden|Naël|Ayden|Noé|"
            "Mathéo|Lyam|Gabin|Isaac|Ibrahim|Ilyes|Kylian"
        ),
    ),
    Sex.FEMALE: (
        _nfc(
            "Marie|Monique|Françoise|Nicole|Catherine|Sylvie|Martine|Christine|Isabelle|"
            "Jacqueline|Brigitte|Danielle|Chantal|Nathalie|Annie|Michèle|Anne|Patricia|"
            "Christiane|Marie-Claude|Marie-Thérèse|Josiane|Colette|Évelyne|Hélène|Dominique|"
            "Véronique|Odile|Ginette|Yvette|Marie-Christine|Jeannine|Denise|Simone"
        ),
        _nfc(
            "Nathalie|Isabelle|Sandrine|Valérie|Stéphanie|Céline|Aurélie|Virginie|Sophie|"
            "Caroline|Émilie|Karine|Laetitia|Delphine|Élodie|Audrey|Julie|Séverine|Mélanie|"
            "Marie-Hélène|Anne-Sophie|Hélène|Corinne|Christelle|Cécile|Laurence|Magali|Gaëlle|"
            "Maëva|Élise|Vanessa|Sabrina|Marie-Laure|Anne-Laure|Estelle|Fabienne"
        ),
        _nfc(
            "Camille|Laura|Manon|Marine|Pauline|Julie|Léa|Chloé|Océane|Marion|Justine|"
            "Mathilde|Sarah|Anaïs|Morgane|Emma|Clara|Lucie|Charlotte|Mélissa|Amandine|Noémie|"
            "Élodie|Jessica|Inès|Maëlle|Lisa|Cassandra|Coralie|Marie-Anne|Élise|Margaux|"
            "Ophélie|Alexandra|Émeline"
        ),
        _nfc(
            "Emma|Jade|Louise|Alice|Chloé|Lina|Rose|Léa|Anna|Mila|Ambre|Julia|Inès|Mia|Lou|"
            "Léna|Zoé|Manon|Agathe|Juliette|Lola|Lucie|Romane|Eva|Maëlys|Nina|Alba|Léonie|"
            "Margaux|Lou-Ann|Aya|Sarah|Mariam|Assia|Lyna"
        ),
    ),
}
UNISEX_FIRST = _nfc("Camille|Dominique|Claude|Sacha|Alix|Charlie|Éden|Morgan|Lou|Andrea")
COMPOUND_HEADS: Final = {"MALE": _nfc("Jean|Pierre|Paul|Louis"), "FEMALE": _nfc("Marie|Anne")}


@dataclass(frozen=True)
class Origin:
    """Where a family's names come from, and the nationalities its members declare."""

    name: str
    weight: int
    last: Picker
    male: Picker
    female: Picker
    nationality: Picker


def _origin(
    name: str, weight: int, last: Picker, male: str, female: str, nationalities: str
) -> Origin:
    return Origin(
        name,
        weight,
        last,
        Picker(_nfc(male), 0.6),
        Picker(_nfc(female), 0.6),
        Picker(_nfc(nationalities), 0.9),
    )


ORIGINS: Final = (
    # French: a ranked list for half of the names (Martin is the most common), the
    # synthetic long tail for the other half (see _Generator.french_last).
    _origin("fr", 54, Picker(FRENCH_LAST, 0.5), "", "", "Française"),
    _origin(
        "maghreb",
        14,
        Picker(MAGHREB_LAST, 0.5),
        "Mohamed|Ahmed|Karim|Mehdi|Youssef|Rachid|Mourad|Samir|Nabil|Hamid|Abdelkader|Saïd|"
        "Omar|Bilal|Amine|Yacine|Sofiane|Walid|Farid|Nordine|Khaled|Rayan|Adam|Ilyès|Ismaël|"
        "Mohammed|Said",
        "Fatima|Khadija|Amina|Yasmina|Nadia|Samira|Leïla|Malika|Karima|Naïma|Aïcha|Meriem|"
        "Sarah|Inès|Lina|Nour|Yasmine|Salma|Hanane|Soraya|Zohra|Djamila|Rania|Leila|Naima",
        "Française|Algérienne|Marocaine|Tunisienne|Algérienne|Marocaine",
    ),
    _origin(
        "west-africa",
        14,
        Picker(WEST_AFRICA_LAST, 0.5),
        "Mamadou|Moussa|Ibrahim|Ibrahima|Oumar|Amadou|Abdoulaye|Souleymane|Boubacar|Seydou|"
        "Mohamed|Lassana|Adama|Bakary|Cheick|Issa|Aliou|Modibo|Sékou|Yacouba|Ousmane|Alpha|"
        "Mory|Lamine|Mamadou Lamine|Cheikh",
        "Fatoumata|Aïssatou|Awa|Mariam|Aminata|Kadiatou|Mariama|Hawa|Fanta|Oumou|Djeneba|"
        "Kadidia|Assa|Nafissatou|Binta|Ramatoulaye|Sira|Coumba|Adja|Salimata|Maïmouna|Rokia|"
        "Aissatou|Fatoumata Binta",
        "Malienne|Guinéenne|Ivoirienne|Française|Sénégalaise|Mauritanienne|Camerounaise|Congolaise",
    ),
    _origin(
        "horn",
        4,
        Picker(HORN_LAST, 0.6),
        "Yonas|Dawit|Samuel|Mulugeta|Tesfalem|Filmon|Abdirahman|Abdullahi|Hussein|Mahamat|"
        "Idriss|Adam|Mohamed|Abdelaziz",
        "Selam|Helen|Senait|Mebrat|Saba|Hiwet|Hodan|Amal|Sahra|Fardowsa|Asha|Hawa|Fatime",
        "Érythréenne|Soudanaise|Éthiopienne|Somalienne|Tchadienne",
    ),
    _origin(
        "middle-east",
        5,
        Picker(MIDDLE_EAST_LAST, 0.6),
        "Ahmad|Mohammad|Ali|Hassan|Hussain|Abdul|Ahmad Shah|Mustafa|Omar|Khaled|Bashir|Jawad|"
        "Reza|Farhad|Sami|Rami|Yousef|Ziad|Najib|Wahid",
        "Fatima|Maryam|Zahra|Zainab|Masooma|Parwana|Shabnam|Nour|Rana|Hala|Lina|Rasha|Aya|"
        "Layla|Farzana",
        "Afghane|Syrienne|Irakienne|Iranienne|Pakistanaise",
    ),
    _origin(
        "east-europe",
        5,
        Picker(EAST_EUROPE_LAST, 0.6),
        "Ion|Gheorghe|Vasile|Constantin|Andrei|Florin|Marius|Adrian|Ionuț|Mihai|Dmytro|"
        "Oleksandr|Serhiy|Artur|Arben|Besnik|Armen|Giorgi|Levan|Nicolae",
        "Maria|Elena|Ioana|Mihaela|Andreea|Florentina|Ana|Olena|Iryna|Natalia|Oksana|Arta|"
        "Blerta|Anahit|Nino|Tamar|Daniela",
        "Roumaine|Ukrainienne|Albanaise|Géorgienne|Arménienne|Moldave|Bulgare",
    ),
    _origin(
        "turkey",
        2,
        Picker(TURKEY_LAST, 0.6),
        "Mehmet|Mustafa|Ahmet|Ali|Hüseyin|Hasan|Ibrahim|Murat|Emre|Yusuf|Kemal|Serkan",
        "Ayşe|Fatma|Emine|Hatice|Zeynep|Elif|Meryem|Esra|Özlem|Büşra|Melek",
        "Turque|Française",
    ),
    _origin(
        "asia",
        2,
        Picker(ASIA_LAST, 0.7),
        "Minh|Duc|Thanh|Wei|Jun|Hao|Sokha|Mohammad|Rafiq|Arjun|Ravi|Kumar|Anh",
        "Linh|Mai|Hoa|Mei|Ying|Sophea|Nasrin|Fatema|Priya|Lakshmi|Thi Lan|Ngoc Anh",
        "Vietnamienne|Chinoise|Bangladaise|Sri-lankaise|Cambodgienne|Indienne",
    ),
)
ORIGIN_PICK: Final = Picker(
    [str(i) for i in range(len(ORIGINS))], weights=[o.weight for o in ORIGINS]
)
FRENCH_FIRST_PICK: Final = {
    sex.value: tuple(Picker(names, 0.5) for names in generations)
    for sex, generations in FRENCH_FIRST.items()
}
UNISEX_PICK: Final = Picker(UNISEX_FIRST, 0.3)

R = Relationship
# The generator works on plain strings (enum attribute access is slow in its loops).
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
PRIORITIES: Final = Picker("1234", weights=(1, 3, 5, 2))  # 1 = most urgent; as the demo data
PLACE_TYPES: Final = Picker(  # recommended to insertion demands
    [PlaceType.INSERTION.value, PlaceType.STABILISATION.value, PlaceType.ADAPTED_HOUSING.value], 1.0
)
# Household sizes, as in the demo data: mostly 1 to 3, up to 8 (mean 2.3).
SIZES: Final = Picker("12345678", weights=(46, 19, 14, 10, 6, 3, 1, 1))
DEMAND_COUNTS: Final = (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 4)  # mean 1.5
STATUS_WEIGHTS: Final = DEMO_STATUSES  # (kind, recent?) -> weights: those of the demo data
STATUSES: Final = {
    (kind.value, recent): Picker([s.value for s in weights], weights=list(weights.values()))
    for (kind, recent), weights in STATUS_WEIGHTS.items()
}

# --- notes and evaluations -------------------------------------------------------------

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
FLASH_RATE = 0.75  # of emergency demands, evaluated by the 115 during the call
DEEP_RATE = 0.7  # of insertion demands of an accompanied household, by its social worker

# Deep evaluations: one text per section (familySituation after the household's shape).
ISOLATED, COUPLE, SINGLE_PARENT, FAMILY, EXTENDED = range(5)
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

# Columns sent by COPY, per table (a column not listed gets its default).
COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "households": (
        "id",
        "reference",
        "territory_code",
        "last_activity_at",
        "closed_at",
        "protected",
        "created_at",
        "updated_at",
        "created_by",
        "version",
    ),
    "persons": (
        "id",
        "first_name",
        "last_name",
        "usage_name",
        "birth_date",
        "sex",
        "nationality",
        "phone",
        "created_at",
        "updated_at",
        "created_by",
        "version",
    ),
    "memberships": (
        "id",
        "person_id",
        "household_id",
        "relationship",
        "validity",
        "created_at",
        "created_by",
    ),
    "accompaniments": (
        "id",
        "household_id",
        "user_id",
        "organisation_id",
        "validity",
        "created_at",
    ),
    "demands": (
        "id",
        "household_id",
        "kind",
        "status",
        "created_at",
        "updated_at",
        "created_by",
        "version",
        "priority",
        "submitted_at",
        "night",
        "recommended_place_type",
        "commission_date",
    ),
    "demand_persons": ("demand_id", "person_id"),
    # Not `search`: PostgreSQL computes it (a generated column) from the title and body.
    "notes": (
        "id",
        "household_id",
        "title",
        "body",
        "pinned_until",
        "pinned_at",
        "pinned_by",
        "deleted_at",
        "deleted_by",
        "created_at",
        "updated_at",
        "created_by",
        "version",
    ),
    "note_persons": ("note_id", "person_id"),
    "evaluations": (
        "id",
        "household_id",
        "kind",
        "vulnerability_level",
        "criteria",
        "sections",
        "created_at",
        "created_by",
    ),
    "audit_events": (
        "id",
        "at",
        "actor_id",
        "action",
        "entity_type",
        "entity_id",
        "household_id",
        "changes",
        "request_id",
    ),
}
TABLES: Final = ("territories", "organisations", "users", *COLUMNS)
# Rows the generator writes per person, per table (at a million persons), for
# `seed_indexes.defer` to compare with the rows a table already holds.
ROWS_PER_PERSON: Final = {
    "households": 0.44,
    "persons": 1.0,
    "memberships": 1.02,
    "accompaniments": 0.13,
    "demands": 0.66,
    "demand_persons": 1.5,
    "notes": 0.45,
    "note_persons": 0.17,
    "evaluations": 0.26,
    "audit_events": 1.83,
}
# The triggers on the loaded tables that `checks="sql"` may switch off, since it checks
# the same rules itself: trigger -> (function, md5 of its source) as of migration 0012.
# A trigger or a function body that is not here (a later migration changed a rule) keeps
# every trigger on: update INVARIANT_CHECKS, then these fingerprints.
KNOWN_TRIGGERS: Final = {
    "person_has_open_membership": (
        "check_person_has_open_membership",
        "3ca7f6fe5f265cea9b90eb0e87b06e0e",
    ),
    "membership_keeps_person_housed": (
        "check_person_has_open_membership",
        "3ca7f6fe5f265cea9b90eb0e87b06e0e",
    ),
    "household_has_member": ("check_household_has_member", "3785a160a89e93d51c62f77fe22b8f54"),
    "membership_keeps_household_populated": (
        "check_household_has_member",
        "3785a160a89e93d51c62f77fe22b8f54",
    ),
    "demand_person_is_member": (
        "check_demand_person_is_member",
        "98891213e2ea22d201eadb9fd0b314e3",
    ),
    "demand_concerns_someone": (
        "check_demand_concerns_someone",
        "f1b27cc5a8d02d58d6d9e230c85a2ca9",
    ),
    "demand_keeps_someone": ("check_demand_concerns_someone", "f1b27cc5a8d02d58d6d9e230c85a2ca9"),
    # Migration 0006: refuses UPDATEs of evaluations; the seed only inserts (COPY), which
    # it never sees, so there is nothing for INVARIANT_CHECKS to check in its stead.
    "evaluations_append_only": ("evaluations_append_only", "8652740e19f7f7bfc4d3f91911a8c33c"),
    # Migration 0011: not a rule but derived data, which DERIVED writes instead.
    "person_name_words_added": ("add_name_words", "13e57242e7b3ba12d2ec351900c9093a"),
    "person_name_words_changed": ("add_name_words", "13e57242e7b3ba12d2ec351900c9093a"),
}
# What the switched-off triggers that keep derived data would have written, set-based.
DERIVED: Final = {
    # (unnest in the select list: a third faster than a lateral join at a million persons)
    "name_words": """
        INSERT INTO name_words (word)
        SELECT DISTINCT w FROM (SELECT unnest(name_words) AS w FROM persons) AS words
        WHERE w <> ''
        ON CONFLICT DO NOTHING
    """,
}
# The invariants the deferred triggers enforce, as set-based queries returning the number
# of offending rows (each must return 0).
INVARIANT_CHECKS: Final = {
    "person_has_open_membership": """
        SELECT count(*) FROM persons p WHERE p.merged_into_id IS NULL AND NOT EXISTS (
            SELECT 1 FROM memberships m WHERE m.person_id = p.id AND upper_inf(m.validity))
    """,
    "household_has_member": """
        SELECT count(*) FROM households h WHERE h.closed_at IS NULL AND NOT EXISTS (
            SELECT 1 FROM memberships m WHERE m.household_id = h.id AND upper_inf(m.validity))
    """,
    "demand_concerns_someone": """
        SELECT count(*) FROM demands d WHERE NOT EXISTS (
            SELECT 1 FROM demand_persons dp WHERE dp.demand_id = d.id)
    """,
    "demand_person_is_member": """
        SELECT count(*) FROM demand_persons dp JOIN demands d ON d.id = dp.demand_id
        WHERE NOT EXISTS (
            SELECT 1 FROM memberships m
            WHERE m.person_id = dp.person_id AND m.household_id = d.household_id
              AND m.validity @> d.created_at)
    """,
}


# --- report ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedReport:
    """What one `seed` call inserted, and how fast."""

    rows: dict[str, int]  # rows inserted per table
    seconds: float  # from connecting to COMMIT
    persons_per_second: float
    checks: Checks  # who checked the invariants: the triggers, or set-based SQL
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase
    references: dict[str, tuple[str, str]] = field(default_factory=dict)  # first, last
    movers: int = 0  # persons who lived in another household before
    ids: Ids = "ordered"

    def summary(self) -> str:
        counts = ", ".join(f"{n:,} {table}" for table, n in self.rows.items() if n)
        phases = ", ".join(f"{name} {s:.1f}s" for name, s in self.phases.items())
        return (
            f"{counts} in {self.seconds:.1f}s: {self.persons_per_second:,.0f} persons/s "
            f"(invariants checked by {self.checks}; {phases})"
        )


class SeedError(RuntimeError):
    """The database cannot take the bench data (not migrated, references exhausted...)."""


class SeedCheckFailed(SeedError):
    """A set-based invariant check found offending rows: nothing was committed."""


# --- helpers ---------------------------------------------------------------------------


def _reference_range(code: str) -> tuple[str, int, int, int]:
    """(prefix, first number, last number, digits) of the bench references of a territory."""
    if code == "2A":
        return "20", 50_000_000, 74_999_999, 8
    if code == "2B":
        return "20", 75_000_000, 99_999_999, 8
    if len(code) == 2:
        return code, 50_000_000, 99_999_999, 8
    return code, 5_000_000, 9_999_999, 7


def _fixed_id(kind: str, key: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{kind}:{key}")


def _status_count(status: str) -> int:
    """The row count of an `INSERT 0 n` / `COPY n` command status."""
    return int(status.rsplit(" ", 1)[-1])


@dataclass
class _Staff:
    """Per territory: the SIAO operator, the associations and their social workers."""

    code: str
    operator: uuid.UUID
    associations: list[uuid.UUID]
    social_workers: list[uuid.UUID]


Stint = tuple[str, int, int | None]  # person id, from, to (None: open), in Unix seconds


@dataclass
class _Chunk:
    """The rows of one chunk, and what later households and demands need to know of it."""

    rows: dict[str, list[Record]]
    ids: list[str] = field(default_factory=list)  # household ids
    times: list[int] = field(default_factory=list)  # household creation, in Unix seconds
    members: list[list[Stint]] = field(default_factory=list)  # every stint, per household
    codes: list[str] = field(default_factory=list)  # territory, per household
    ref_born: list[int] = field(default_factory=list)  # reference person's birth (days)
    references: list[str] = field(default_factory=list)
    families: list[int] = field(default_factory=list)  # ISOLATED, COUPLE... per household
    born: dict[str, int] = field(default_factory=dict)  # person id -> birth (days)
    persons: int = 0


class _Generator:
    """Builds the rows of one chunk of households at a time, from one seeded generator."""

    def __init__(
        self,
        rng: random.Random,
        staff: list[_Staff],
        counters: dict[str, int],
        persons: int,
        ids: Ids,
    ) -> None:
        self.rng = rng
        self.counters = counters  # territory code -> next reference number
        self.territory_pick = Picker(
            [s.code for s in staff], weights=[TERRITORY_WEIGHTS.get(s.code, 10) for s in staff]
        )
        self.staff = {s.code: s for s in staff}
        self.base_ts = int(BASE.timestamp())
        self.span_days = (END - BASE).days - 30
        self.end_ts = int(END.timestamp())
        self.persons, self.done = max(persons, 1), 0
        self.movers = 0
        # ids="random": version-4 UUIDs, drawn 65,536 at a time.
        self.id_pool, self.id_pos = "", 0
        # ids="ordered" (version 8, "custom"): 16 bits drawn once per call, a 32-bit counter
        # (from a random start below 2 ** 31), then 72 bits drawn once per call.
        tail = f"{rng.getrandbits(72):018x}"
        self.id_head = f"{rng.getrandbits(16):04x}"
        self.id_tail = f"8{tail[:3]}{8 + rng.getrandbits(2):x}{tail[3:]}"
        self.id_counter = rng.getrandbits(31)
        self.new_id = self.ordered_id if ids == "ordered" else self.random_id

    def random_id(self) -> str:
        """A random version-4 UUID from the seeded generator, as 32 hex digits (asyncpg
        takes them; `_dashed` gives the canonical form)."""
        pos = self.id_pos
        if pos >= len(self.id_pool):
            self.id_pool, pos = self.rng.randbytes(16 * 65_536).hex(), 0
        self.id_pos = pos + 32
        pool = self.id_pool
        return (
            pool[pos : pos + 12] + "4" + pool[pos + 13 : pos + 16] + "a" + pool[pos + 17 : pos + 32]
        )

    def ordered_id(self) -> str:
        """The next id of this call, greater than all the previous ones: a version-8 UUID
        that counts in its bits 16 to 47, the others drawn once per call.

        The counter must sit in the first 53 bits: btree_gist's penalty for uuid keys (the
        GiST indexes of memberships) only sees the first 64 bits, as a double. Ids that
        differ only further right all cost it nothing, the index then mixes every key in
        every subtree, and each probe by person or household (the exclusion check of every
        insert, the application's queries) reads hundreds of pages instead of a few."""
        self.id_counter += 1
        return f"{self.id_head}{self.id_counter:08x}{self.id_tail}"

    # --- names --------------------------------------------------------------------------

    def french_last(self) -> str:
        rnd = self.rng.random
        r = rnd()
        if r < 0.5:
            return ORIGINS[0].last(rnd)
        if r < 0.53:  # hyphenated: Martin-Dubois
            last = ORIGINS[0].last
            return f"{last(rnd)}-{last(rnd)}"
        vowels = "aeiouéè"
        head = TAIL_HEADS[int(rnd() * len(TAIL_HEADS))]
        middle = TAIL_MIDDLES[int(rnd() * len(TAIL_MIDDLES))] if head[-1] in vowels else ""
        if rnd() < 0.35:  # one more syllable: Ba-r-ol-ier
            if (head + middle)[-1] in vowels:
                middle += TAIL_INNER_END[int(rnd() * len(TAIL_INNER_END))]
            middle += (
                TAIL_INNER[int(rnd() * len(TAIL_INNER))]
                + TAIL_INNER_END[int(rnd() * len(TAIL_INNER_END))]
            )
        end = TAIL_ENDS[int(rnd() * len(TAIL_ENDS))]
        if (head + middle)[-1] in vowels and end[0] in vowels:
            middle += "l"  # Bo-l-et rather than Boet
        name = head + middle + end
        if r > 0.93:  # Le Bachet, de la Rousselle
            particle = TAIL_PARTICLES[int(rnd() * len(TAIL_PARTICLES))]
            name = particle + name
        return name

    def last_name(self, origin: int) -> str:
        if origin == 0:
            return self.french_last()
        return ORIGINS[origin].last(self.rng.random)

    def first_name(self, origin: int, sex: str, year: int) -> str:
        rnd = self.rng.random
        if sex == UNSPECIFIED:
            return UNISEX_PICK(rnd)
        generation = 0 if year < 1966 else 1 if year < 1990 else 2 if year < 2005 else 3
        if origin != 0 and not (generation >= 2 and rnd() < 0.35):
            o = ORIGINS[origin]
            return (o.male if sex == MALE else o.female)(rnd)
        french = FRENCH_FIRST_PICK[sex][generation]
        if rnd() < 0.04:  # Jean-Kévin, Marie-Lou
            heads = COMPOUND_HEADS[sex]
            head, second = heads[int(rnd() * len(heads))], french(rnd)
            if "-" not in second and " " not in second and second != head:
                return f"{head}-{second}"
        return french(rnd)

    # --- one chunk ----------------------------------------------------------------------

    def households(self, chunk: _Chunk, households: int, persons_left: int) -> None:
        """Add up to `households` households, their persons and memberships to `chunk`,
        without going over `persons_left` persons in it.

        Times are whole seconds since 1970 here; they go to asyncpg as PostgreSQL's own
        binary form, `(microseconds since 2000-01-01,)` (dates: `(days since 2000-01-01,)`),
        see `_fast_codecs`: encoding a `datetime` costs more than building the row."""
        rnd, new_id = self.rng.random, self.new_id
        if self.id_counter >= ID_COUNTER_LIMIT:  # a chunk takes far fewer ids than the margin
            raise SeedError("this call ran out of ordered ids: seed fewer persons per call")
        stop = len(chunk.ids) + households
        while len(chunk.ids) < stop and chunk.persons < persons_left:
            code = self.territory_pick(rnd)
            prefix, _, last, digits = _reference_range(code)
            number = self.counters[code]
            if number > last:
                raise SeedError(f"no bench household reference left for territory {code}")
            self.counters[code] = number + 1
            # Households come in chronological order, as in production (the heap follows
            # time): the day is the progress of the load, give or take a day.
            day = (self.span_days * self.done) // self.persons + _randint(rnd, -1, 1)
            created = self.base_ts + min(max(day, 0), self.span_days) * 86400
            created += _randint(rnd, 8 * 60, 19 * 60) * 60  # Paris working hours
            size = min(int(SIZES(rnd)), persons_left - chunk.persons)
            hid = new_id()
            stints, ref_born = self.compose(chunk, hid, size, created, self.staff[code].operator)
            chunk.ids.append(hid)
            chunk.ref_born.append(ref_born)
            chunk.times.append(created)
            chunk.members.append(stints)
            chunk.persons += size
            self.done += size
            chunk.codes.append(code)
            chunk.references.append(f"{prefix}{number:0{digits}d}")

    def history(self, chunk: _Chunk, start: int, stop: int) -> None:
        """Add the households `start` to `stop` of the chunk (once every household of the
        chunk has its members: earlier ones receive movers), their accompaniments,
        demands and audit events."""
        rnd, new_id = self.rng.random, self.new_id
        rows = chunk.rows
        h_rows, a_rows, d_rows, dp_rows, e_rows = (
            rows["households"],
            rows["accompaniments"],
            rows["demands"],
            rows["demand_persons"],
            rows["audit_events"],
        )
        base_ts, end_ts = self.base_ts, self.end_ts
        last_day = (end_ts - base_ts) // 86400
        dumps = orjson.dumps
        for i in range(start, stop):
            hid, created, members = chunk.ids[i], chunk.times[i], chunk.members[i]
            code = chunk.codes[i]
            staff = self.staff[code]
            actor = staff.operator
            at = _pg_ts(created)
            e_rows.append(
                (
                    new_id(),
                    at,
                    actor,
                    "CREATE",
                    "Household",
                    hid,
                    hid,
                    f'{{"territory": {{"after": "{code}", "before": null}}}}',
                    REQUEST_ID,
                )
            )
            protected = rnd() < 0.01  # (violence)
            accompanied: tuple[int, int, int] | None = None  # association, from, to
            if rnd() < 0.3:  # accompanied by an association, in person half of the time
                k = int(rnd() * len(staff.associations))
                since = created + _randint(rnd, 1, 20) * 86400 + _randint(rnd, 0, 8 * 60) * 60
                until = since + _randint(rnd, 30, 400) * 86400 if rnd() < 0.15 else end_ts
                lower = _pg_ts(since)
                validity: object = (
                    (lower,) if until >= end_ts else asyncpg.Range(lower, _pg_ts(until))
                )
                user = staff.social_workers[k] if rnd() < 0.5 else None
                a_rows.append((new_id(), hid, user, staff.associations[k], validity, lower))
                accompanied = (k, since, until)
            # The first demand within 3 days of the household's creation, the others later;
            # emergencies (the 115) in the evening, insertion demands in office hours.
            first_day = (created - base_ts) // 86400
            demands: list[tuple[int, str]] = []
            for n in range(DEMAND_COUNTS[int(rnd() * len(DEMAND_COUNTS))]):
                kind = EMERGENCY if rnd() < 0.4 else INSERTION
                day = first_day + (
                    _randint(rnd, 0, 3) if n == 0 else int(rnd() * (last_day - first_day))
                )
                minute = (
                    _randint(rnd, 17 * 60, 23 * 60 + 55)
                    if kind == EMERGENCY
                    else _randint(rnd, 9 * 60, 17 * 60 + 55)
                )
                when = base_ts + day * 86400 + minute * 60
                if when <= created:
                    when += 86400
                if when >= end_ts:
                    when = created + 600
                demands.append((when, kind))
            demands.sort()
            made: list[tuple[int, str, list[str]]] = []  # when, kind, concerned persons
            for when, kind in demands:
                recent = end_ts - when < (4 if kind == EMERGENCY else 45) * 86400
                status = STATUSES[(kind, recent)](rnd)
                did = new_id()
                concerned = [
                    pid
                    for pid, lower_ts, upper_ts in members
                    if lower_ts <= when and (upper_ts is None or when < upper_ts)
                ]
                day = _pg_day(when)
                at = _pg_ts(when)
                d_rows.append(
                    (
                        did,
                        hid,
                        kind,
                        status,
                        at,
                        at,
                        actor,
                        1,
                        int(PRIORITIES(rnd)),
                        None if status == DRAFT else at,
                        (day,) if kind == EMERGENCY else None,
                        None if kind == EMERGENCY else PLACE_TYPES(rnd),
                        None if kind == EMERGENCY else (day + 14,),
                    )
                )
                dp_rows += [(did, pid) for pid in concerned]
                made.append((when, kind, concerned))
                changes = {
                    "concernedPersons": {"after": sorted(map(_dashed, concerned)), "before": None},
                    "kind": {"after": kind, "before": None},
                    "status": {"after": status, "before": None},
                }
                e_rows.append(
                    (
                        new_id(),
                        at,
                        actor,
                        "CREATE",
                        "Demand",
                        did,
                        hid,
                        dumps(changes).decode(),
                        REQUEST_ID,
                    )
                )
            # Last activity: the latest demand, evaluation, note (or its deletion).
            last = max(
                demands[-1][0],
                self.evaluations(chunk, i, accompanied, made, protected),
                self.notes(chunk, i, accompanied, made),
            )
            created_at = _pg_ts(created)
            h_rows.append(
                (
                    hid,
                    chunk.references[i],
                    code,
                    _pg_ts(last),
                    None,
                    protected,
                    created_at,
                    created_at,
                    actor,
                    1,
                )
            )

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

    def event(
        self,
        at: tuple[int],
        actor: uuid.UUID,
        action: str,
        entity_type: str,
        entity_id: str,
        hid: str,
        changes: Mapping[str, object],
    ) -> Record:
        """An audit event, as the application writes it (`resolvers.audit.record`)."""
        return (
            self.new_id(),
            at,
            actor,
            action,
            entity_type,
            entity_id,
            hid,
            orjson.dumps(changes).decode(),
            REQUEST_ID,
        )

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

    def compose(
        self, chunk: _Chunk, hid: str, size: int, created: int, actor: uuid.UUID
    ) -> tuple[list[Stint], int]:
        """The persons and open memberships of a new household of `size` members (some of
        whom lived in an earlier household of the chunk before); their stints here and the
        birth of the reference person (days since 2000-01-01)."""
        rnd = self.rng.random
        rels = _shape(size, rnd)
        has_child, has_spouse = CHILD in rels, SPOUSE in rels
        chunk.families.append(_family(size, has_spouse, has_child))
        female_odds = 0.85 if has_child and not has_spouse else 0.4 if has_spouse else 0.3
        ref_sex = FEMALE if rnd() < female_odds else MALE
        if has_child:
            ref_age = int(self.rng.triangular(20, 55, 33))
        else:
            ref_age = int(self.rng.triangular(18, 78, 34))
        origin = int(ORIGIN_PICK(rnd))
        family = self.last_name(origin)
        spouse_origin = origin if rnd() < 0.85 else int(ORIGIN_PICK(rnd))
        spouse_last = self.last_name(spouse_origin) if has_spouse else ""
        spouse_sex = MALE if ref_sex == FEMALE else FEMALE
        spouse_age = max(18, ref_age + _randint(rnd, -6, 8))
        youngest_parent = min(ref_age, spouse_age) if has_spouse else ref_age
        ref_usage: str | None = None
        spouse_usage: str | None = None
        children = family  # the name the children carry: the father's, when he is there
        if has_spouse and ref_sex == FEMALE:
            children = spouse_last
            ref_usage = spouse_last if rnd() < 0.5 else None
        elif has_spouse:
            spouse_usage = family if rnd() < 0.5 else None
        elif has_child and rnd() < 0.35:
            children = self.last_name(origin)  # the absent father's
        created_day = _pg_day(created)
        created_at = _pg_ts(created)
        open_validity = (created_at,)  # [created, infinity)
        p_rows, m_rows = chunk.rows["persons"], chunk.rows["memberships"]
        stints: list[Stint] = []
        ref_born = 0
        for rel in rels:
            usage: str | None = None
            person_origin = origin
            if rel == REFERENCE_PERSON:
                sex, age, last, usage = ref_sex, ref_age, family, ref_usage
            elif rel == SPOUSE:
                sex, age, last, usage = spouse_sex, spouse_age, spouse_last, spouse_usage
                person_origin = spouse_origin
            elif rel == CHILD:
                sex = FEMALE if rnd() < 0.5 else MALE
                age, last = _randint(rnd, 0, min(24, youngest_parent - 16)), children
                if has_spouse and age < 18 and family != spouse_last and rnd() < 0.1:
                    # a double name (since 2005): the father's, then the mother's
                    mother = family if ref_sex == FEMALE else spouse_last
                    last = f"{children} {mother}"
            elif rel == PARENT:
                sex = FEMALE if rnd() < 0.65 else MALE
                age, last = min(95, ref_age + _randint(rnd, 20, 35)), family
                if sex == FEMALE:  # the mother: her own name, her husband's in use
                    last, usage = self.last_name(origin), family if rnd() < 0.6 else None
            elif rel == SIBLING:
                sex = FEMALE if rnd() < 0.5 else MALE
                age, last = max(16, ref_age + _randint(rnd, -10, 10)), family
            elif rel == OTHER_RELATIVE:
                sex = FEMALE if rnd() < 0.5 else MALE
                age = _randint(rnd, 3, 60)
                last = family if rnd() < 0.5 else self.last_name(origin)
            else:  # hosted by a friend
                sex = FEMALE if rnd() < 0.4 else MALE
                age, person_origin = _randint(rnd, 18, 65), int(ORIGIN_PICK(rnd))
                last = self.last_name(person_origin)
            if rnd() < 0.01:
                sex = UNSPECIFIED
            born = created_day - age * 365 - age // 4 - int(rnd() * 365)  # days since 2000
            first = self.first_name(person_origin, sex, 2000 + int(born // 365.25))
            if rnd() < 0.04:  # typed in capitals
                last = last.upper()
            pid = self.new_id()
            since = created_at
            if chunk.ids and rnd() < 0.02:
                since = self._earlier_stint(chunk, pid, rel, age, born, created, actor) or since
            phone = None
            if age >= 16 and rnd() < 0.65:
                r = int(rnd() * 200_000_000)
                phone = f"0{6 + r % 2}{r // 2:08d}"
            nationality = None if rnd() < 0.05 else ORIGINS[person_origin].nationality(rnd)
            p_rows.append(
                (
                    pid,
                    first,
                    last,
                    usage,
                    (born,),
                    sex,
                    nationality,
                    phone,
                    since,
                    created_at,
                    actor,
                    1,
                )
            )
            m_rows.append((self.new_id(), pid, hid, rel, open_validity, created_at, actor))
            stints.append((pid, created, None))
            chunk.born[pid] = born
            if rel == REFERENCE_PERSON:
                ref_born = born
        return stints, ref_born

    def _earlier_stint(
        self,
        chunk: _Chunk,
        pid: str,
        rel: str,
        age: int,
        born: int,
        created: int,
        actor: uuid.UUID,
    ) -> tuple[int] | None:
        """Give the person an earlier membership, in a household of the chunk created
        before this one, that ends when this one begins (gap-free); its start, or None
        when no household fits."""
        rnd = self.rng.random
        born_ts = (born + 10_957 + 1) * 86400  # the day after the birth, in Unix seconds
        for _ in range(4):
            j = int(rnd() * len(chunk.ids))
            lower = max(chunk.times[j] + 3600, born_ts)
            if lower + 86400 > created:
                continue
            lower = int(lower + rnd() * (created - lower) * 0.8) // 60 * 60
            # The relationship there, from the ages of the mover and of its reference person.
            younger = (born - chunk.ref_born[j]) / 365.25  # years younger than that person
            minor = age - (created - lower) / (365.25 * 86400) < 18
            if younger >= 16:
                previous = CHILD if rnd() < 0.8 else OTHER_RELATIVE
            elif younger <= -16:
                previous = PARENT
            elif minor:
                previous = SIBLING if abs(younger) <= 12 else OTHER_RELATIVE
            elif rel == SPOUSE and rnd() < 0.5:
                previous = SPOUSE  # a separation
            else:
                previous = (SIBLING if abs(younger) <= 12 else OTHER_RELATIVE, OTHER)[rnd() < 0.5]
            since = _pg_ts(lower)
            chunk.rows["memberships"].append(
                (
                    self.new_id(),
                    pid,
                    chunk.ids[j],
                    previous,
                    asyncpg.Range(since, _pg_ts(created)),  # [lower, created)
                    since,
                    actor,
                )
            )
            chunk.members[j].append((pid, lower, created))
            self.movers += 1
            return since
        return None


def _shape(size: int, rnd: Callable[[], float]) -> list[str]:
    """The relationships of a new household's members: reference person first."""
    if size == 1:
        return [REFERENCE_PERSON]
    if size == 2:
        r = rnd()
        second = SPOUSE if r < 0.45 else CHILD if r < 0.9 else PARENT if r < 0.95 else SIBLING
        return [REFERENCE_PERSON, second]
    r = rnd()
    head = [REFERENCE_PERSON] if 0.55 <= r < 0.9 else [REFERENCE_PERSON, SPOUSE]
    tail = [(PARENT, SIBLING, OTHER_RELATIVE, OTHER)[int(rnd() * 4)]] if r >= 0.9 else []
    return head + [CHILD] * (size - len(head) - len(tail)) + tail


def _text(rnd: Callable[[], float], fragments: Fragments) -> str:
    """One spelling of one sentence of `fragments` (each sentence as likely)."""
    texts = fragments[int(rnd() * len(fragments))][1]
    return texts[int(rnd() * len(texts))]


def _family(size: int, has_spouse: bool, has_child: bool) -> int:
    """The household's shape, for the family situation of its deep evaluations."""
    if size == 1:
        return ISOLATED
    if has_spouse:
        return FAMILY if has_child else COUPLE
    return SINGLE_PARENT if has_child else EXTENDED


def _office_time(rnd: Callable[[], float], base_ts: int, lower: int, upper: int) -> int | None:
    """A time in office hours (9:00 to 18:00, Paris) on one of the days after `lower`, before
    `upper`; None when there is none (or the draw fell past `upper`)."""
    days = (upper - lower) // 86400
    if days < 1:
        return None
    day = (lower - base_ts) // 86400 + 1 + int(rnd() * days)
    at = base_ts + day * 86400 + _randint(rnd, 9 * 60, 18 * 60) * 60
    return at if at < upper else None


def _iso(unix: int) -> str:
    """An instant as the change log writes it (ISO 8601), in Paris time."""
    return datetime.fromtimestamp(unix, PARIS).isoformat()


def _pg_ts(unix: int) -> tuple[int]:
    """A timestamptz for the `_fast_codecs`: microseconds since 2000-01-01 UTC."""
    return ((unix - 946_684_800) * 1_000_000,)


def _pg_day(unix: int) -> int:
    """The date in Paris (UTC+1, as the demo data) of a Unix time, in days since 2000-01-01."""
    return (unix + 3600) // 86400 - 10_957


def _randint(rnd: Callable[[], float], low: int, high: int) -> int:
    """`random.randint`, a few times cheaper."""
    return low + int(rnd() * (high - low + 1))


def _dashed(h: str) -> str:
    """The canonical text form of a UUID given as 32 hex digits."""
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# --- the load --------------------------------------------------------------------------


async def seed(
    url: str,
    persons: int,
    *,
    seed: int = 1,
    territories: Sequence[str] = ("75", "93", "13", "69", "59"),
    checks: Checks = "sql",
    ids: Ids = "ordered",
) -> SeedReport:
    """Add `persons` persons, their households and history to the database at `url`
    (a `postgresql://` URL, migrated to head), in one transaction; see the module doc."""
    if persons < 0:
        raise ValueError("persons must be >= 0")
    codes = list(dict.fromkeys(territories))
    if not codes or any(not TERRITORY_CODE.match(code) for code in codes):
        raise ValueError(f"territory codes like 75, 2A or 971 expected, got {territories!r}")
    started = time.perf_counter()
    phases: dict[str, float] = {}
    rows = dict.fromkeys(TABLES, 0)
    conn = await asyncpg.connect(url, server_settings={"application_name": "siao-bench-seed"})
    try:
        transaction = conn.transaction()
        await transaction.start()
        try:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
            missing = [
                table
                for table in TABLES
                if await conn.fetchval("SELECT to_regclass($1)", f"public.{table}") is None
            ]
            if missing:
                raise SeedError(f"tables {missing} missing: run the migrations first")
            checks = await _choose_checks(conn, checks)
            staff = await _setup(conn, codes, rows)
            counters = await _counters(conn, codes)
            await _fast_codecs(conn)
            _deep_send_buffer(conn)
            rng = random.Random(f"siao-bench:{seed}:{sorted(counters.items())}")
            first = dict(counters)
            generator = _Generator(rng, staff, counters, persons, ids)
            deferred: list[seed_indexes.Deferred] = []
            if checks == "sql":  # pending trigger events would forbid the rebuild
                added = {table: round(persons * n) for table, n in ROWS_PER_PERSON.items()}
                deferred = await seed_indexes.defer(conn, added)
            phases["setup"] = time.perf_counter() - started
            tick = time.perf_counter()
            busy = dict.fromkeys(("generate", "copy"), 0.0)
            with _without_cyclic_gc():
                await _load(conn, generator, persons, rows, busy)
            phases["load"] = time.perf_counter() - tick
            phases.update(busy)
            tick = time.perf_counter()
            await seed_indexes.rebuild(conn, deferred)
            phases["index"] = time.perf_counter() - tick
            if checks == "sql":
                tick = time.perf_counter()
                for statement in DERIVED.values():
                    await conn.execute(statement)
                phases["derive"] = time.perf_counter() - tick
                tick = time.perf_counter()
                await _check(conn)
                phases["check"] = time.perf_counter() - tick
            tick = time.perf_counter()
        except BaseException:
            try:
                await asyncio.wait_for(transaction.rollback(), 30)
            except Exception:
                conn.terminate()  # the server rolls back when the connection drops
            raise
        await transaction.commit()
        phases["commit"] = time.perf_counter() - tick
    finally:
        await conn.close()
    seconds = time.perf_counter() - started
    references = {}
    for code in codes:
        if counters[code] > first[code]:
            prefix, _, _, digits = _reference_range(code)
            references[code] = (
                f"{prefix}{first[code]:0{digits}d}",
                f"{prefix}{counters[code] - 1:0{digits}d}",
            )
    return SeedReport(
        rows=rows,
        seconds=round(seconds, 3),
        persons_per_second=round(rows["persons"] / seconds, 1) if seconds else 0.0,
        checks=checks,
        phases={name: round(s, 3) for name, s in phases.items()},
        references=references,
        movers=generator.movers,
        ids=ids,
    )


@contextlib.contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Python's cyclic garbage collector off for the load, as it was afterwards. The rows
    are tuples of strings, numbers and tuples, which hold no cycle, but each full collection
    walked every list of rows and every stint again, more each time as a chunk grew: at
    300,000 persons, more than half of the generation's time (13.9 s, 6.0 s without), on
    the Python core that also encodes the COPY."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def vacuum(url: str) -> float:
    """`VACUUM (ANALYZE)` of every table the seed writes (and the dictionary of name words
    it derives), after its COMMIT: what autovacuum would do minutes later, in the middle of
    a benchmark (the visibility map set, the GIN pending lists flushed, statistics at the
    server's target instead of the load's coarse ones). Returns the seconds it took."""
    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"VACUUM (ANALYZE) {', '.join((*TABLES, *DERIVED))}")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def _load(
    conn: asyncpg.Connection[asyncpg.Record],
    generator: _Generator,
    persons: int,
    rows: dict[str, int],
    busy: dict[str, float],
) -> None:
    """Generate chunks of households and COPY them, the next chunk being generated while
    the server digests the previous one (Python and PostgreSQL each keep a core busy)."""
    pending: asyncio.Task[None] | None = None
    left, households = persons, FIRST_CHUNK
    try:
        while left > 0:
            chunk = await _generate(generator, households, left, busy)
            households = min(CHUNK_HOUSEHOLDS, households * 2)
            left -= chunk.persons
            if pending is not None:
                await pending
            pending = asyncio.create_task(_copy(conn, chunk.rows, rows, busy))
            del chunk
        if pending is not None:
            await pending
    except BaseException:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        raise


async def _generate(
    generator: _Generator, households: int, persons_left: int, busy: dict[str, float]
) -> _Chunk:
    """One chunk, built `SLICE_HOUSEHOLDS` households at a time: between two slices, the
    event loop lets the COPY of the previous chunk send what the server is ready for."""
    chunk = _Chunk(rows={table: [] for table in COLUMNS})
    while len(chunk.ids) < households and chunk.persons < persons_left:
        tick = time.perf_counter()
        slice_ = min(SLICE_HOUSEHOLDS, households - len(chunk.ids))
        generator.households(chunk, slice_, persons_left)
        busy["generate"] += time.perf_counter() - tick
        await asyncio.sleep(0)
    for start in range(0, len(chunk.ids), SLICE_HOUSEHOLDS):
        tick = time.perf_counter()
        generator.history(chunk, start, min(start + SLICE_HOUSEHOLDS, len(chunk.ids)))
        busy["generate"] += time.perf_counter() - tick
        await asyncio.sleep(0)
    return chunk


async def _copy(
    conn: asyncpg.Connection[asyncpg.Record],
    chunk: dict[str, list[Record]],
    rows: dict[str, int],
    busy: dict[str, float],
) -> None:
    """COPY the rows of one chunk, table by table in foreign-key order."""
    tick = time.perf_counter()
    for table, records in chunk.items():
        if records:
            status = await conn.copy_records_to_table(
                table, records=records, columns=COLUMNS[table]
            )
            rows[table] += _status_count(status)
    busy["copy"] += time.perf_counter() - tick


async def _choose_checks(conn: asyncpg.Connection[asyncpg.Record], wanted: Checks) -> Checks:
    """Switch the triggers off for this transaction when `wanted` is "sql" and it is safe:
    the role may do it and the loaded tables carry no trigger this module does not know."""
    if wanted == "triggers":
        return "triggers"
    triggers = await conn.fetch(
        """
        SELECT t.tgrelid::regclass::text AS "table", t.tgname AS name, p.proname AS function,
               md5(p.prosrc) AS source
        FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
        WHERE t.tgrelid = ANY($1::regclass[]) AND NOT t.tgisinternal AND t.tgenabled <> 'D'
        """,
        list(TABLES),
    )
    unknown = [
        f"{t['table']}.{t['name']} ({t['function']})"
        for t in triggers
        if KNOWN_TRIGGERS.get(t["name"]) != (t["function"], t["source"])
    ]
    if unknown:
        log.warning(
            "triggers unknown to bench.seed, or changed since it was written: %s; keeping "
            "every trigger on (slow). Update bench.seed's INVARIANT_CHECKS and KNOWN_TRIGGERS.",
            ", ".join(unknown),
        )
        return "triggers"
    try:
        async with conn.transaction():  # a savepoint: a refusal must not abort the load
            await conn.execute("SET LOCAL session_replication_role = replica")
    except asyncpg.InsufficientPrivilegeError:
        log.warning("may not set session_replication_role: keeping every trigger on")
        return "triggers"
    return "sql"


async def _setup(
    conn: asyncpg.Connection[asyncpg.Record], codes: list[str], rows: dict[str, int]
) -> list[_Staff]:
    """The territories, and per territory its SIAO, associations and their staff (the
    rows that exist already are kept); who is who."""
    names = [TERRITORY_NAMES.get(code, f"Département {code}") for code in codes]
    status = await conn.execute(
        "INSERT INTO territories (code, name) SELECT * FROM unnest($1::text[], $2::text[]) "
        "ON CONFLICT DO NOTHING",
        codes,
        names,
    )
    rows["territories"] += _status_count(status)
    organisations: list[tuple[uuid.UUID, str, str, str, datetime]] = []
    users: list[tuple[uuid.UUID, str, str, str, uuid.UUID, str, bool, datetime]] = []
    for code, name in zip(codes, names, strict=True):
        siao = _fixed_id("organisation", f"siao:{code}")
        organisations.append((siao, f"SIAO {name}", OrganisationKind.SIAO, code, SETUP_AT))
        login = f"bench.siao.{code.lower()}@bench.siao"
        users.append(
            (
                _fixed_id("user", login),
                login,
                STAFF_NAMES[len(users) % len(STAFF_NAMES)],
                Role.SIAO_OPERATOR,
                siao,
                code,
                True,
                SETUP_AT,
            )
        )
        for n, association in enumerate(ASSOCIATIONS, start=1):
            org = _fixed_id("organisation", f"association:{code}:{n}")
            organisations.append(
                (org, f"{association} {name}", OrganisationKind.ASSOCIATION, code, SETUP_AT)
            )
            login = f"bench.sw.{code.lower()}.{n}@bench.siao"
            users.append(
                (
                    _fixed_id("user", login),
                    login,
                    STAFF_NAMES[len(users) % len(STAFF_NAMES)],
                    Role.SOCIAL_WORKER,
                    org,
                    code,
                    True,
                    SETUP_AT,
                )
            )
    status = await conn.execute(
        "INSERT INTO organisations (id, name, kind, territory_code, created_at) "
        "SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) "
        "ON CONFLICT DO NOTHING",
        *(list(column) for column in zip(*organisations, strict=True)),
    )
    rows["organisations"] += _status_count(status)
    status = await conn.execute(
        "INSERT INTO users (id, login, display_name, role, organisation_id, territory_code, "
        "active, created_at) SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], "
        "$4::text[], $5::uuid[], $6::text[], $7::bool[], $8::timestamptz[]) "
        "ON CONFLICT DO NOTHING",
        *(list(column) for column in zip(*users, strict=True)),
    )
    rows["users"] += _status_count(status)
    # The ids in the database (a login may predate this module's ids).
    ids: dict[str, uuid.UUID] = {
        r["login"]: r["id"]
        for r in await conn.fetch(
            "SELECT login, id FROM users WHERE login = ANY($1::text[])", [u[1] for u in users]
        )
    }
    staff = []
    for code in codes:
        c = code.lower()
        staff.append(
            _Staff(
                code=code,
                operator=ids[f"bench.siao.{c}@bench.siao"],
                associations=[
                    _fixed_id("organisation", f"association:{code}:{n}")
                    for n in range(1, len(ASSOCIATIONS) + 1)
                ],
                social_workers=[
                    ids[f"bench.sw.{c}.{n}@bench.siao"] for n in range(1, len(ASSOCIATIONS) + 1)
                ],
            )
        )
    return staff


def _deep_send_buffer(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """Let the kernel queue up to 4 MB for the server (the usual limit, net.core.wmem_max):
    while Python generates the next slice of households, PostgreSQL keeps digesting."""
    transport = getattr(conn, "_transport", None)  # not public in asyncpg: best effort
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)


async def _fast_codecs(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """From now on this connection takes timestamptz and date values in PostgreSQL's
    binary form: `(microseconds since 2000-01-01 UTC,)` and `(days since 2000-01-01,)`
    (also inside ranges). `COPY` then encodes a row several times faster."""
    for typename in ("timestamptz", "date"):
        await conn.set_type_codec(
            typename, schema="pg_catalog", encoder=tuple, decoder=tuple, format="tuple"
        )


async def _counters(conn: asyncpg.Connection[asyncpg.Record], codes: list[str]) -> dict[str, int]:
    """Per territory, the number of its next bench household reference."""
    counters = {}
    for code in codes:
        prefix, first, last, digits = _reference_range(code)
        highest = await conn.fetchval(
            "SELECT max(reference) FROM households WHERE reference BETWEEN $1 AND $2",
            f"{prefix}{first:0{digits}d}",
            f"{prefix}{last:0{digits}d}",
        )
        counters[code] = int(highest[len(prefix) :]) + 1 if highest else first
    return counters


async def _check(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """What the switched-off triggers would have checked, for every row of the loaded
    tables, set-based: the invariants of migration 0001 and every foreign key (one scan
    per table, whatever foreign keys later migrations add)."""
    # Statistics first: without them the planner guesses the sizes of tables that were
    # empty, and may join a million rows by nested loops.
    tick = time.perf_counter()
    await conn.execute("SET LOCAL default_statistics_target = 10")  # enough to plan joins
    await conn.execute(f"ANALYZE {', '.join(TABLES)}")
    await conn.execute("RESET default_statistics_target")
    log.debug("analyze: %.2fs", time.perf_counter() - tick)
    await conn.execute("SET LOCAL work_mem = '256MB'")
    queries = dict(INVARIANT_CHECKS)
    foreign_keys: dict[str, list[asyncpg.Record]] = {}
    for fk in await conn.fetch(
        """
        SELECT c.conname AS name, c.conrelid::regclass::text AS child,
               c.confrelid::regclass::text AS parent,
               array(SELECT quote_ident(a.attname) FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                     ORDER BY k.i) AS columns,
               array(SELECT quote_ident(a.attname) FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                     JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n
                     ORDER BY k.i) AS referenced
        FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = ANY($1::regclass[])
        ORDER BY 2, 1
        """,
        list(TABLES),
    ):
        foreign_keys.setdefault(fk["child"], []).append(fk)
    for child, fks in foreign_keys.items():
        # child LEFT JOIN each parent on its key: a row whose key is set but found no
        # parent breaks that foreign key.
        joins, counts = [], []
        for n, fk in enumerate(fks):
            pairs = list(zip(fk["columns"], fk["referenced"], strict=True))
            match = " AND ".join(f"p{n}.{ref} = t.{column}" for column, ref in pairs)
            joins.append(f"LEFT JOIN {fk['parent']} p{n} ON {match}")
            present = " AND ".join(f"t.{column} IS NOT NULL" for column, _ in pairs)
            counts.append(f"count(*) FILTER (WHERE {present} AND p{n}.{pairs[0][1]} IS NULL)")
        queries[f"foreign keys of {child}"] = (
            f"SELECT ARRAY[{', '.join(counts)}] FROM {child} t {' '.join(joins)}"
        )
    names = {
        f"foreign keys of {child}": [fk["name"] for fk in fks]
        for child, fks in foreign_keys.items()
    }
    failures: dict[str, int] = {}
    for name, query in queries.items():
        tick = time.perf_counter()
        bad = await conn.fetchval(query)
        log.debug("check %s: %s offending rows in %.2fs", name, bad, time.perf_counter() - tick)
        if name in names:
            failures.update((fk, n) for fk, n in zip(names[name], bad, strict=True) if n)
        elif bad:
            failures[name] = bad
    if failures:
        raise SeedCheckFailed(f"invariants broken, nothing committed: {failures}")
