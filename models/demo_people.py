"""Who the demo households are: the names drawn (a few on purpose, homonyms only where
placed), the sizes of households drawn, the compositions forced for the households the
documentation names, and the members who move between households."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from models.household import Relationship
from models.person import Sex

R = Relationship

LAST_NAMES = [
    "N'Diaye",
    "Da Silva",
    "Le Goff",
    "Martin-Dubois",
    "Müller",
    "Diallo",
    "Traoré",
    "Camara",
    "Benali",
    "Mansouri",
    "Nguyen",
    "Koné",
    "Popescu",
    "Ben Saïd",
    "Yilmaz",
]
FIRST_NAMES = {
    Sex.FEMALE: [
        "Marie-Hélène",
        "Hélène",
        "Zoé",
        "Anaïs",
        "Anne-Sophie",
        "Aïssatou",
        "Fatoumata",
        "Yasmina",
        "Amina",
        "Awa",
        "Maëlys",
        "Noémie",
    ],
    Sex.MALE: [
        "Jean-Pierre",
        "Jean-Baptiste",
        "Pierre-Yves",
        "Mamadou",
        "Moussa",
        "Karim",
        "Ibrahim",
        "Oumar",
        "Mehdi",
        "Loïc",
        "Anthony",
        "Rayan",
    ],
    Sex.UNSPECIFIED: ["Camille", "Dominique", "Claude", "Sacha", "Alix", "Charlie"],
}
# Faker's French first names are of every generation; the young mostly get these.
YOUNG_NAMES = {
    Sex.FEMALE: [
        "Emma",
        "Jade",
        "Louise",
        "Chloé",
        "Léa",
        "Manon",
        "Inès",
        "Lina",
        "Maëlys",
        "Aya",
        "Sarah",
        "Zoé",
        "Anaïs",
        "Lou-Ann",
        "Mariam",
    ],
    Sex.MALE: [
        "Gabriel",
        "Léo",
        "Raphaël",
        "Noah",
        "Adam",
        "Lucas",
        "Nathan",
        "Ethan",
        "Yanis",
        "Mohamed",
        "Rayan",
        "Enzo",
        "Théo",
        "Jean-Baptiste",
        "Moussa",
    ],
    Sex.UNSPECIFIED: ["Camille", "Sacha", "Charlie", "Alix", "Eden"],
}
HOMONYMS = {("Laurent", "Dupont"), ("Hélène", "N'Diaye")}  # only where placed on purpose
SIZES = {1: 46, 2: 19, 3: 14, 4: 10, 5: 6, 6: 3, 7: 1, 8: 1}


@dataclass(frozen=True)
class Spec:
    """One member to create; what is None is drawn at random."""

    rel: Relationship
    sex: Sex | None = None
    first: str | None = None
    last: str | None = None
    usage: str | None = None
    born: date | None = None
    age: int | None = None


F, M = Sex.FEMALE, Sex.MALE
FORCED: dict[str, list[Spec]] = {
    "7500000001": [
        Spec(R.REFERENCE_PERSON, F, "Anaïs", "Le Goff", age=34),
        Spec(R.CHILD, F, "Zoé", "Le Goff", age=9),
        Spec(R.CHILD, M, "Noah", "Le Goff", age=4),
    ],
    "7500000002": [Spec(R.REFERENCE_PERSON, M, "Laurent", "Dupont", born=date(1971, 3, 14))],
    "7500000003": [
        Spec(R.REFERENCE_PERSON, M, "Jean-Pierre", "Martin-Dubois", age=58),
        Spec(R.SPOUSE, F, "Marie-Hélène", "Da Silva", "Martin-Dubois", age=55),
    ],
    "7500000007": [
        Spec(R.REFERENCE_PERSON, F, "Hélène", "N'Diaye", born=date(1988, 5, 21)),
        Spec(R.CHILD),
    ],
    "7500000045": [
        Spec(R.REFERENCE_PERSON, M, "Laurent", "Dupont", born=date(1983, 9, 2)),
        Spec(R.SPOUSE, F),
        Spec(R.CHILD),
        Spec(R.CHILD),
    ],
    "7500000085": [Spec(R.REFERENCE_PERSON, F, age=38), Spec(R.CHILD), Spec(R.CHILD, age=12)],
    "7500000087": [Spec(R.REFERENCE_PERSON, M, age=41)],
    "7500000090": [Spec(R.REFERENCE_PERSON, F), Spec(R.SPOUSE, M), Spec(R.CHILD), Spec(R.CHILD)],
    "7500000095": [Spec(R.REFERENCE_PERSON, M, age=45)],
    "7500000100": [
        Spec(R.REFERENCE_PERSON, M, age=48),
        Spec(R.SPOUSE, F),
        Spec(R.CHILD, M, age=20),
        Spec(R.CHILD),
    ],
    "7500000110": [
        Spec(R.REFERENCE_PERSON, M, age=50),
        Spec(R.SPOUSE, F),
        Spec(R.PARENT, F, age=79),
    ],
    "7500000112": [Spec(R.REFERENCE_PERSON, F, age=47), Spec(R.CHILD)],
    "7500000120": [Spec(R.REFERENCE_PERSON, F, age=27), Spec(R.CHILD, age=3)],
    "7500000130": [Spec(R.REFERENCE_PERSON, F, age=58)],
    "7500000140": [
        Spec(R.REFERENCE_PERSON, F, age=44),
        Spec(R.CHILD),
        Spec(R.OTHER_RELATIVE, age=17),
    ],
    "7500000142": [Spec(R.REFERENCE_PERSON, M, age=52), Spec(R.SPOUSE, F)],
    "7500000150": [],  # born of a move
    "9300000001": [
        Spec(R.REFERENCE_PERSON, M, last="Müller", age=39),
        Spec(R.SPOUSE, F),
        Spec(R.CHILD),
    ],
    "9300000002": [Spec(R.REFERENCE_PERSON, F, "Hélène", "N'Diaye", born=date(1979, 12, 2))],
    "9300000003": [Spec(R.REFERENCE_PERSON, M, "Laurent", "Dupont", born=date(1965, 11, 27))],
    "9300000020": [Spec(R.REFERENCE_PERSON, F), Spec(R.SPOUSE, M), Spec(R.CHILD)],
    "9300000022": [Spec(R.REFERENCE_PERSON, M, age=39)],
    "9300000025": [Spec(R.REFERENCE_PERSON, M, age=36), Spec(R.SIBLING, M)],
    "9300000027": [Spec(R.REFERENCE_PERSON, M, age=44)],
    "9300000030": [
        Spec(R.REFERENCE_PERSON, F, age=46),
        Spec(R.SPOUSE, M),
        Spec(R.CHILD, F, age=21),
        Spec(R.CHILD),
    ],
    "9300000040": [Spec(R.REFERENCE_PERSON, M, age=33)],
    "9300000041": [Spec(R.REFERENCE_PERSON, F, age=31), Spec(R.CHILD)],
    "9300000050": [],  # born of a move
}
# (source, target, [(member index in the source's composition, relationship there)], days
# after both exist; a target not created yet is created by the move, at its own instant).
MOVES: list[tuple[str, str, list[tuple[int, Relationship]], int]] = [
    ("7500000120", "7500000130", [(0, R.CHILD), (1, R.OTHER_RELATIVE)], 40),  # closes 120
    ("9300000040", "9300000041", [(0, R.SPOUSE)], 60),  # closes 40
    ("7500000100", "7500000150", [(2, R.REFERENCE_PERSON)], 0),  # leaves home
    ("9300000030", "9300000050", [(2, R.REFERENCE_PERSON)], 0),
    ("7500000090", "7500000095", [(1, R.OTHER)], 35),  # separation, hosted by a friend
    ("9300000020", "9300000022", [(1, R.OTHER)], 50),
    ("7500000085", "7500000087", [(2, R.CHILD)], 70),  # goes to live with the father
    ("7500000110", "7500000112", [(2, R.PARENT)], 90),  # grandmother, to her daughter's
    ("9300000025", "9300000027", [(1, R.OTHER)], 45),
    ("7500000140", "7500000142", [(2, R.OTHER_RELATIVE)], 30),
]


NATIONALITIES = (
    "Française",
    "Française",
    "Française",
    "Algérienne",
    "Marocaine",
    "Malienne",
    "Ivoirienne",
    "Afghane",
    "Roumaine",
    "Syrienne",
    "Érythréenne",
    None,
)
