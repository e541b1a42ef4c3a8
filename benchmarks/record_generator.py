"""Synthetic person or company records with known duplicates, for the duplicate-flagging benchmark.

    python3 -m uv run python benchmarks/record_generator.py --rows 100000 --kind person --seed 1 --out DIR [--format csv|parquet]

The public sets with ground truth are a few thousand rows; this makes sets of any size, up to
millions of rows in seconds, so speed and memory can be measured where they matter. Writes
DIR/records.csv (or records.parquet) and DIR/true_pairs.csv (`a,b`: every pair of ids that belong
to the same entity) and prints rows, entities, true pairs and seconds.

How the data is made, and why:
- Each entity is drawn from small vocabularies with skewed (Zipf-like) frequencies, so common
  names collide across different entities the way they do in real files.
- About 36 % of entities get 1..3 extra records. Every copy is derived from the entity's clean
  values independently, as separate source systems would write it: abbreviations (Street/St,
  North/N, Inc/Incorporated, legal form dropped), given name as nickname or initial, given name and
  surname swapped, typos (insert, delete, keyboard-neighbour substitute, transpose), missing
  values, another phone layout, e-mail case, day/month swapped in an ISO date, people who moved.
- Hard non-duplicates are planted on purpose: household members share surname, address and phone;
  company branches share a name and e-mail domain, and different companies share a building.
- Missing values are nulls (empty in CSV). Every column is text: postcodes keep leading zeros and
  phones keep their layout, so readers must read all columns as strings.

`generate()` returns the records (shuffled, unique string ids) and the true pairs; it is
deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Number of extra records per entity: 0, 1, 2, 3 (about 36 % of entities get at least one).
EXTRA_COPIES_P = np.array([0.64, 0.21, 0.10, 0.05])

GIVEN_NAMES = (
    "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara Richard Susan Joseph Jessica "
    "Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Margaret Mark Sandra Donald Ashley "
    "Steven Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Dorothy Kevin Carol Brian Amanda George Melissa "
    "Timothy Deborah Ronald Stephanie Edward Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia Jacob Kathleen Gary Amy "
    "Nicholas Angela Eric Shirley Jonathan Anna Stephen Brenda Larry Pamela Justin Emma Scott Nicole Brandon Helen "
    "Benjamin Samantha Samuel Katherine Gregory Christine Alexander Debra Frank Rachel Patrick Carolyn Raymond Janet "
    "Jack Catherine Dennis Maria Jerry Heather Tyler Diane Aaron Ruth Jose Julie Adam Olivia Nathan Joyce Henry Virginia "
    "Douglas Victoria Zachary Kelly Peter Lauren Kyle Christina Ethan Joan Walter Evelyn Noah Judith Jeremy Megan "
    "Christian Andrea Keith Cheryl Roger Hannah Terry Jacqueline Gerald Martha Harold Gloria Sean Teresa Austin Ann "
    "Carl Sara Arthur Madison Lawrence Frances Dylan Kathryn Jesse Janice Jordan Jean Bryan Abigail Billy Alice Joe "
    "Judy Bruce Sophia Gabriel Grace Logan Denise Albert Amber Willie Doris Alan Marilyn Juan Danielle Wayne Beverly "
    "Elijah Isabella Randy Theresa Roy Diana Vincent Natalie Ralph Brittany Eugene Charlotte Russell Marie Bobby Kayla "
    "Mason Alexis Philip Lori Louis Wei Priya Mohammed Fatima Hiroshi Yuki Carlos Sofia Miguel Lucia Ahmed Aisha Raj "
    "Anjali Chen Mei Dmitri Olga Kwame Amara Luca Giulia Lars Ingrid Pierre Camille Sven Astrid Diego Valentina"
).split()

# name -> nicknames; a copy may carry one of these instead of the given name.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "William": ("Bill", "Will"),
    "Robert": ("Bob", "Rob"),
    "Richard": ("Rick", "Dick"),
    "James": ("Jim", "Jimmy"),
    "John": ("Jack", "Johnny"),
    "Michael": ("Mike",),
    "Thomas": ("Tom",),
    "Christopher": ("Chris",),
    "Daniel": ("Dan", "Danny"),
    "Matthew": ("Matt",),
    "Anthony": ("Tony",),
    "Joseph": ("Joe",),
    "Charles": ("Charlie", "Chuck"),
    "David": ("Dave",),
    "Steven": ("Steve",),
    "Edward": ("Ed", "Ted"),
    "Benjamin": ("Ben",),
    "Samuel": ("Sam",),
    "Alexander": ("Alex",),
    "Nicholas": ("Nick",),
    "Jonathan": ("Jon",),
    "Andrew": ("Andy", "Drew"),
    "Timothy": ("Tim",),
    "Jennifer": ("Jen", "Jenny"),
    "Elizabeth": ("Liz", "Beth"),
    "Katherine": ("Kate", "Kathy"),
    "Margaret": ("Maggie", "Peggy"),
    "Patricia": ("Pat", "Patty"),
    "Susan": ("Sue",),
    "Deborah": ("Deb",),
    "Rebecca": ("Becky",),
    "Jessica": ("Jess",),
    "Samantha": ("Sam",),
    "Victoria": ("Vicky",),
    "Christine": ("Chris",),
    "Kimberly": ("Kim",),
    "Stephanie": ("Steph",),
    "Abigail": ("Abby",),
    "Jacqueline": ("Jackie",),
    "Gregory": ("Greg",),
    "Raymond": ("Ray",),
    "Lawrence": ("Larry",),
    "Frank": ("Frankie",),
    "Ronald": ("Ron",),
    "Donald": ("Don",),
    "Kenneth": ("Ken",),
    "Gerald": ("Jerry",),
    "Zachary": ("Zach",),
    "Joshua": ("Josh",),
    "Jeffrey": ("Jeff",),
    "Peter": ("Pete",),
    "Douglas": ("Doug",),
    "Philip": ("Phil",),
    "Cynthia": ("Cindy",),
    "Pamela": ("Pam",),
    "Dorothy": ("Dot",),
    "Kathleen": ("Kathy",),
    "Catherine": ("Cathy",),
    "Alexis": ("Lexi",),
    "Nathan": ("Nate",),
    "Harold": ("Harry",),
    "Eugene": ("Gene",),
    "Isabella": ("Bella",),
}

SURNAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson Anderson "
    "Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young "
    "Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
    "Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers "
    "Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez "
    "Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez "
    "Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero "
    "Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson "
    "Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington "
    "Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez "
    "Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox "
    "Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn "
    "O'Brien McCarthy Van der Berg De Jong Muller Schneider Fischer Weber Becker Hoffmann Rossi Russo Bianchi Kowalski "
    "Nowak Novak Ivanov Petrov Wang Li Zhang Liu Yang Huang Zhao Wu Zhou Xu Sun Ma Tanaka Suzuki Takahashi Watanabe Singh "
    "Kumar Sharma Gupta Shah Khan Ali Hussain Ahmed Rahman Okafor Mensah Osei Abubakar Haddad Cohen Levi Friedman "
    "Andersson Johansson Nilsson Hansen Jensen Larsen Dubois Moreau Laurent Lefebvre O'Connor Byrne Walsh Doyle"
).split()

STREET_NAMES = (
    "Main Oak Maple Cedar Pine Elm Washington Lake Hill Park Walnut Lincoln Jefferson Madison Franklin Church Spring "
    "Highland Ridge Sunset Willow Chestnut Jackson Adams Center Mill River Forest Meadow Cherry Valley Dogwood Hickory "
    "Magnolia Sycamore Birch Aspen Poplar Laurel Holly Juniper Spruce Cypress Hawthorn Orchard Prospect Pleasant Union "
    "Market Water Bridge Front High School College University Broad Court Liberty Grove Green Lakeview Fairview "
    "Riverside Hillcrest Woodland Cambridge Oxford Windsor Kingston Greenwood Belmont Clinton Monroe Harrison Wilson "
    "Grant Hamilton Johnson Taylor Lee Sherman Dewey Evergreen Heritage Summit Canyon Mesa Colonial Meadowbrook Brookside "
    "Shady Pebble Stonebridge Timber Quail Cardinal Bluebird Deer Fox Eagle Hawk Heron Willowbrook Peachtree Lafayette "
    "Beacon Harbor Bay Ocean Shore Mountain Vista Rosewood Ashford Bradford Charleston Dover Essex Hampton Lexington Newport "
    "Salem Trenton First Second Third Fourth Fifth Sixth Seventh Eighth Ninth Tenth"
).split()

# (full form, abbreviation); a copy may write either.
STREET_TYPES = [
    ("Street", "St"),
    ("Avenue", "Ave"),
    ("Road", "Rd"),
    ("Boulevard", "Blvd"),
    ("Drive", "Dr"),
    ("Lane", "Ln"),
    ("Court", "Ct"),
    ("Place", "Pl"),
    ("Terrace", "Ter"),
    ("Parkway", "Pkwy"),
    ("Highway", "Hwy"),
    ("Circle", "Cir"),
    ("Way", "Way"),
    ("Square", "Sq"),
    ("Trail", "Trl"),
]
STREET_TYPE_P = np.array([30, 22, 14, 5, 10, 6, 4, 2, 1, 1, 1, 1, 1, 1, 1], dtype=float)
DIRECTIONS = [("North", "N"), ("South", "S"), ("East", "E"), ("West", "W")]
UNIT_WORDS_PERSON = ["Apt ", "Apt. ", "#", "Unit "]
UNIT_WORDS_COMPANY = ["Suite ", "Ste ", "Ste. ", "#", "Floor "]

# (city, 3-digit ZIP prefix, area code, another way the city is written or "").
CITIES = [
    ("New York", "100", "212", "New York City"),
    ("Los Angeles", "900", "213", "LA"),
    ("Chicago", "606", "312", ""),
    ("Houston", "770", "713", ""),
    ("Phoenix", "850", "602", ""),
    ("Philadelphia", "191", "215", "Phila"),
    ("San Antonio", "782", "210", ""),
    ("San Diego", "921", "619", ""),
    ("Dallas", "752", "214", ""),
    ("San Jose", "951", "408", ""),
    ("Austin", "787", "512", ""),
    ("Jacksonville", "322", "904", ""),
    ("Fort Worth", "761", "817", "Ft Worth"),
    ("Columbus", "432", "614", ""),
    ("Charlotte", "282", "704", ""),
    ("San Francisco", "941", "415", "SF"),
    ("Indianapolis", "462", "317", ""),
    ("Seattle", "981", "206", ""),
    ("Denver", "802", "303", ""),
    ("Washington", "200", "202", "Washington DC"),
    ("Boston", "021", "617", ""),
    ("El Paso", "799", "915", ""),
    ("Nashville", "372", "615", ""),
    ("Detroit", "482", "313", ""),
    ("Oklahoma City", "731", "405", "OKC"),
    ("Portland", "972", "503", ""),
    ("Las Vegas", "891", "702", ""),
    ("Memphis", "381", "901", ""),
    ("Louisville", "402", "502", ""),
    ("Baltimore", "212", "410", ""),
    ("Milwaukee", "532", "414", ""),
    ("Albuquerque", "871", "505", ""),
    ("Tucson", "857", "520", ""),
    ("Fresno", "937", "559", ""),
    ("Sacramento", "958", "916", ""),
    ("Kansas City", "641", "816", ""),
    ("Mesa", "852", "480", ""),
    ("Atlanta", "303", "404", ""),
    ("Omaha", "681", "402", ""),
    ("Colorado Springs", "809", "719", "Colo Springs"),
    ("Raleigh", "276", "919", ""),
    ("Miami", "331", "305", ""),
    ("Long Beach", "908", "562", ""),
    ("Virginia Beach", "234", "757", "Va Beach"),
    ("Oakland", "946", "510", ""),
    ("Minneapolis", "554", "612", ""),
    ("Tulsa", "741", "918", ""),
    ("Tampa", "336", "813", ""),
    ("Arlington", "760", "817", ""),
    ("New Orleans", "701", "504", ""),
    ("Wichita", "672", "316", ""),
    ("Cleveland", "441", "216", ""),
    ("Bakersfield", "933", "661", ""),
    ("Aurora", "800", "303", ""),
    ("Anaheim", "928", "714", ""),
    ("Honolulu", "968", "808", ""),
    ("Santa Ana", "927", "714", ""),
    ("Riverside", "925", "951", ""),
    ("Corpus Christi", "784", "361", ""),
    ("Lexington", "405", "859", ""),
    ("Saint Louis", "631", "314", "St. Louis"),
    ("Saint Paul", "551", "651", "St Paul"),
    ("Pittsburgh", "152", "412", ""),
    ("Cincinnati", "452", "513", ""),
    ("Anchorage", "995", "907", ""),
    ("Greensboro", "274", "336", ""),
    ("Plano", "750", "972", ""),
    ("Newark", "071", "973", ""),
    ("Lincoln", "685", "402", ""),
    ("Orlando", "328", "407", ""),
    ("Irvine", "926", "949", ""),
    ("Toledo", "436", "419", ""),
    ("Jersey City", "073", "201", ""),
    ("Buffalo", "142", "716", ""),
    ("Madison", "537", "608", ""),
    ("Springfield", "627", "217", ""),
    ("Springfield", "011", "413", ""),
    ("Portland", "041", "207", ""),
    ("Salt Lake City", "841", "801", "SLC"),
    ("Boise", "837", "208", ""),
    ("Richmond", "232", "804", ""),
    ("Des Moines", "503", "515", ""),
    ("Birmingham", "352", "205", ""),
    ("Rochester", "146", "585", ""),
    ("Spokane", "992", "509", ""),
    ("Hartford", "061", "860", ""),
    ("Providence", "029", "401", ""),
]

EMAIL_DOMAINS = [
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "aol.com",
    "icloud.com",
    "comcast.net",
    "msn.com",
    "live.com",
    "protonmail.com",
    "att.net",
    "verizon.net",
]
EMAIL_DOMAIN_P = np.array([40, 14, 10, 10, 5, 6, 4, 2, 3, 2, 2, 2], dtype=float)

COMPANY_WORDS = (
    "Summit Blue River Global Pacific Atlantic Northern Southern Eastern Western Central United American Premier Apex "
    "Pioneer Liberty Eagle Falcon Phoenix Silver Golden Red Green Black White Crystal Diamond Granite Iron Oak Cedar "
    "Maple Pine Willow Harbor Bay Coastal Mountain Valley Prairie Desert Sun Star Polar Arctic Tri Metro Urban Capital "
    "Crown Royal Imperial Sterling Keystone Cornerstone Bridge Gateway Horizon Frontier Heritage Legacy Vanguard Quantum "
    "Fusion Vertex Zenith Nova Orbit Prime Core Bright Clear Swift Rapid Precision Reliable Allied Integrated Advanced "
    "Dynamic Strategic First Second Lakeside Riverside Hillside Northstar Redwood Ironwood Stonegate Westfield Eastgate"
).split()
COINED_HEADS = (
    "Nova Tek Inno Data Medi Agri Aero Auto Bio Chem Cyber Eco Electro Enviro Fin Geo Hydro Info Logi "
    "Micro Nano Neo Omni Opti Petro Pharma Robo Sol Tele Terra Trans Uni Vita Zen Ampli Syn Kine Lumi Veri"
).split()
COINED_TAILS = "tek tech tron ics ix ify ora ium ly nex nova sys works lab logic soft wave link point path gen matic vance core cell vox ara".split()

# (full, abbreviation or ""): the trade word of a company name.
INDUSTRY_WORDS = [
    ("Logistics", ""),
    ("Engineering", "Eng"),
    ("Technologies", "Tech"),
    ("Manufacturing", "Mfg"),
    ("Services", "Svcs"),
    ("Associates", "Assoc"),
    ("Brothers", "Bros"),
    ("Management", "Mgmt"),
    ("Systems", "Sys"),
    ("Solutions", ""),
    ("Holdings", "Hldgs"),
    ("Industries", "Inds"),
    ("Laboratories", "Labs"),
    ("Distribution", "Dist"),
    ("Construction", "Constr"),
    ("Consulting", ""),
    ("Trading", ""),
    ("Foods", ""),
    ("Pharmaceuticals", "Pharma"),
    ("Partners", ""),
    ("Group", "Grp"),
    ("International", "Intl"),
    ("Enterprises", "Ent"),
    ("Electric", "Elec"),
    ("Plumbing", ""),
    ("Roofing", ""),
    ("Landscaping", ""),
    ("Transport", ""),
    ("Freight", ""),
    ("Marketing", "Mktg"),
    ("Media", ""),
    ("Software", ""),
    ("Capital", ""),
    ("Investments", "Invest"),
    ("Insurance", "Ins"),
    ("Realty", ""),
    ("Properties", "Props"),
    ("Development", "Dev"),
    ("Healthcare", ""),
    ("Dental", ""),
    ("Medical", "Med"),
    ("Supply", "Sply"),
    ("Equipment", "Equip"),
    ("Motors", ""),
    ("Textiles", ""),
    ("Packaging", "Pkg"),
    ("Printing", ""),
    ("Security", "Sec"),
    ("Energy", ""),
]

# Each row: one legal form as it is written in different records.
LEGAL_FORMS = [
    ("Inc", "Inc.", "Incorporated", "INC"),
    ("Ltd", "Ltd.", "Limited"),
    ("LLC", "L.L.C.", "Llc"),
    ("GmbH", "Gmbh", "G.m.b.H."),
    ("B.V.", "BV", "B.V"),
    ("Sdn Bhd", "Sdn. Bhd.", "SDN BHD", "Sdn.Bhd."),
    ("Corp", "Corp.", "Corporation"),
    ("Co", "Co.", "Company"),
    ("PLC", "plc", "Public Limited Company"),
    ("Pty Ltd", "Pty. Ltd.", "Proprietary Limited"),
    ("S.A.", "SA"),
    ("AG",),
    ("N.V.", "NV"),
    ("LLP", "L.L.P."),
    ("S.r.l.", "Srl", "SRL"),
    ("Oy",),
    ("AB",),
    ("S.A.S.", "SAS"),
]
LEGAL_FORM_P = np.array([30, 16, 22, 5, 3, 3, 8, 4, 2, 2, 1, 1, 1, 2, 1, 0.5, 0.5, 1], dtype=float)
EMAIL_BOXES = ["info", "sales", "contact", "office", "admin", "hello", "accounts", "orders"]
COMPANY_TLDS = ["com", "com", "com", "com", "net", "co", "biz", "us"]

KEYBOARD_ROWS = ["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"]

PERSON_COLUMNS = ["id", "given_name", "surname", "date_of_birth", "address", "city", "postcode", "phone", "email"]
COMPANY_COLUMNS = ["id", "company_name", "address", "city", "postcode", "phone", "email"]


def _keyboard_neighbours() -> tuple[np.ndarray, np.ndarray]:
    """For each ASCII code, the codes of the keys next to it and how many there are.

    A substitution typo hits a neighbouring key far more often than a random one."""
    near = np.zeros((128, 4), dtype=np.uint32)
    count = np.zeros(128, dtype=np.int64)
    for r, row in enumerate(KEYBOARD_ROWS):
        for c, ch in enumerate(row):
            keys = [row[i] for i in (c - 1, c + 1) if 0 <= i < len(row)]
            if r > 0:  # letters also sit above and below each other; digits only side by side
                keys += [
                    KEYBOARD_ROWS[k][c]
                    for k in (r - 1, r + 1)
                    if 1 <= k < len(KEYBOARD_ROWS) and c < len(KEYBOARD_ROWS[k])
                ]
            near[ord(ch), : len(keys)] = [ord(k) for k in keys]
            count[ord(ch)] = len(keys)
    return near, count


NEAR_KEYS, NEAR_COUNT = _keyboard_neighbours()


# ---------------------------------------------------------------- small vectorised helpers


def _zipf_p(n: int, skew: float = 0.9) -> np.ndarray:
    """Frequencies of a vocabulary in list order: a few values are common, most are rare."""
    weights = 1.0 / np.arange(1, n + 1) ** skew
    return weights / weights.sum()


def _choice(rng: np.random.Generator, n_values: int, size: int, p: np.ndarray | None = None) -> np.ndarray:
    """Indices into a vocabulary of ``n_values`` entries."""
    if p is None:
        return rng.integers(0, n_values, size=size)
    return rng.choice(n_values, size=size, p=p / p.sum())


# Text columns are built with Arrow kernels: one pass per operation and no Python string object per
# row, which is what makes a million records take seconds rather than minutes.


def _arrow(values: pd.Series | str) -> pa.Array | pa.Scalar:
    """The Arrow view of a string Series (no copy), or a string scalar."""
    if isinstance(values, str):
        return pa.scalar(values, pa.large_string())
    return pa.array(values, type=pa.large_string())


def _series(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    """A string Series with a fresh 0..n-1 index, like every column built here."""
    return pd.Series(values, dtype="str")


def _vocab(words: list[str], idx: np.ndarray) -> pd.Series:
    """``words[idx]`` as a string Series."""
    return _series(pa.array(words, type=pa.large_string()).take(pa.array(np.asarray(idx, dtype=np.int64))))


def _cat(*parts: pd.Series | str) -> pd.Series:
    """Row-wise concatenation of string Series and literals in one pass (null if any part is null)."""
    return _series(pc.binary_join_element_wise(*[_arrow(p) for p in parts], _arrow("")))


def _const(value: str, n: int) -> pd.Series:
    """``n`` copies of one string, to concatenate with or to choose from."""
    return _vocab([value], np.zeros(n, dtype=np.int64))


def _digits(values: np.ndarray, width: int) -> pd.Series:
    """Zero-padded decimal strings of a non-negative integer array; small numbers by table lookup, which is faster."""
    values = np.asarray(values, dtype=np.int64)
    top = int(values.max(initial=0))
    if top < 20_000:
        return _vocab([str(i).zfill(width) for i in range(top + 1)], values)
    return _series(pc.utf8_lpad(pc.cast(pa.array(values), pa.large_string()), width, "0"))


def _mask(rng: np.random.Generator, rows: np.ndarray, rate: float) -> np.ndarray:
    """Rows (a boolean mask) picked with probability ``rate`` among ``rows``."""
    return rows & (rng.random(rows.shape[0]) < rate)


def _where(cond: np.ndarray, a: pd.Series | str, b: pd.Series | str) -> pd.Series:
    """Row-wise choice between two aligned string Series (or a Series and a constant)."""
    if isinstance(a, str) and isinstance(b, str):
        a = _const(a, cond.shape[0])
    return _series(pc.if_else(pa.array(np.asarray(cond, dtype=bool)), _arrow(a), _arrow(b)))


def _change(values: pd.Series, where: np.ndarray, change: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``change`` applied to the ``where`` rows only; most corruptions touch a few percent of rows."""
    idx = np.flatnonzero(where)
    if idx.size == 0:
        return values
    changed = _arrow(change(_series(_arrow(values).take(pa.array(idx)))))
    return _series(pc.replace_with_mask(_arrow(values), pa.array(np.asarray(where, dtype=bool)), changed))


def _choose(pick: np.ndarray, options: list[pd.Series]) -> pd.Series:
    """``options[pick[i]][i]`` for every row i, in one pass."""
    return _series(pc.choose(pa.array(np.asarray(pick, dtype=np.int64)), *[_arrow(o) for o in options]))


def _compose(pick: np.ndarray, templates: list[tuple[str | int, ...]], parts: list[pd.Series]) -> pd.Series:
    """Row i written as ``templates[pick[i]]`` (literals, and ints indexing ``parts``; at least one int each).

    Each template is built on its own rows only: building every layout for every row and then
    choosing costs several times more string concatenation."""
    arrays = [_arrow(part) for part in parts]
    chunks, order = [], []
    for k, template in enumerate(templates):
        rows = np.flatnonzero(pick == k)
        if rows.size == 0:
            continue
        taken = pa.array(rows)
        pieces = [_arrow(piece) if isinstance(piece, str) else arrays[piece].take(taken) for piece in template]
        chunks.append(pc.binary_join_element_wise(*pieces, _arrow("")))
        order.append(rows)
    if not chunks:
        return _series(pa.array([], type=pa.large_string()))
    return _series(pa.chunked_array(chunks).take(pa.array(np.argsort(np.concatenate(order)))))


def _variants(groups: list[tuple[str, ...]], group: np.ndarray, variant: np.ndarray) -> pd.Series:
    """``groups[group][variant % len(group)]``: one of the ways a thing is written (St / Street, Inc / Inc.)."""
    flat = [word for g in groups for word in g]
    offsets = np.cumsum([0] + [len(g) for g in groups])[:-1]
    counts = np.array([len(g) for g in groups])
    return _vocab(flat, offsets[group] + variant % counts[group])


def _neighbour_key(ch: np.ndarray, v: np.ndarray) -> np.ndarray:
    """A key next to each character code (same case); characters off the keyboard map to themselves."""
    upper = (ch >= 65) & (ch <= 90)
    lower = np.where(upper, ch + 32, ch)
    ascii_ = lower < 128
    code = np.where(ascii_, lower, 0)
    count = NEAR_COUNT[code]
    key = NEAR_KEYS[code, np.minimum((v * count).astype(np.int64), 3)]
    key = np.where(ascii_ & (count > 0), key, lower)
    return np.where(upper & (key >= 97) & (key <= 122), key - 32, np.where(upper, ch, key)).astype(np.uint32)


def _typos(texts: list[str], ops: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One typing error per text (0 insert, 1 delete, 2 substitute with a neighbouring key, 3 transpose).

    Works on a (texts x characters) code-point matrix, so a hundred thousand typos cost one numpy
    pass, not a Python loop. The first character is rarely touched, as in real typos."""
    chars = np.array(texts, dtype=str)
    m, width = chars.size, chars.dtype.itemsize // 4 + 2
    codes = np.zeros((m, width), dtype=np.uint32)
    codes[:, : width - 2] = chars.view(np.uint32).reshape(m, width - 2)
    length = (codes > 0).sum(axis=1)
    pos = 1 + (rng.random(m) * np.maximum(length - 1, 1)).astype(np.int64)
    pos = np.minimum(pos, np.maximum(length - 1, 0))
    rows, j = np.arange(m), np.arange(width)[None, :]
    ch = codes[rows, pos]
    key = _neighbour_key(ch, rng.random(m))
    src = np.broadcast_to(j, (m, width)).copy()
    src += ((ops == 1)[:, None] & (j >= pos[:, None])).astype(np.int64)  # delete: shift left from pos
    src -= ((ops == 0)[:, None] & (j > pos[:, None])).astype(np.int64)  # insert: shift right after pos
    swap = np.flatnonzero(ops == 3)
    src[swap, pos[swap]], src[swap, pos[swap] - 1] = pos[swap] - 1, pos[swap]
    out = np.take_along_axis(codes, np.clip(src, 0, width - 1), axis=1)
    substitute, insert = np.flatnonzero(ops == 2), np.flatnonzero(ops == 0)
    out[substitute, pos[substitute]] = key[substitute]
    out[insert, pos[insert]] = np.where(
        rng.random(insert.size) < 0.5, key[insert], ch[insert]
    )  # a neighbour, or a doubled key
    out[length < 2] = codes[length < 2]
    return np.ascontiguousarray(out).view(f"<U{width}").ravel()


def _apply_typos(
    values: pd.Series, where: np.ndarray, rng: np.random.Generator, ops: tuple[int, ...] = (0, 1, 2, 3)
) -> pd.Series:
    """Typos in the selected rows only."""
    idx = np.flatnonzero(where & values.notna().to_numpy())
    if idx.size == 0:
        return values
    chosen = np.asarray(ops)[rng.integers(0, len(ops), size=idx.size)]
    mask = np.zeros(len(values), dtype=bool)
    mask[idx] = True
    typed = pa.array(
        _typos(_arrow(values).take(pa.array(idx)).to_pylist(), chosen, rng).tolist(), type=pa.large_string()
    )
    return _series(pc.replace_with_mask(_arrow(values), pa.array(mask), typed))


def _blank(values: pd.Series, where: np.ndarray) -> pd.Series:
    """Missing values are nulls, which CSV writes as empty fields."""
    return _series(
        pc.if_else(pa.array(np.asarray(where, dtype=bool)), pa.scalar(None, pa.large_string()), _arrow(values))
    )


# ---------------------------------------------------------------- entities and their copies


def _group_sizes(n_records: int, rng: np.random.Generator) -> np.ndarray:
    """Records per entity (1..4), trimmed so they add up to exactly ``n_records``."""
    sizes = 1 + rng.choice(len(EXTRA_COPIES_P), size=n_records, p=EXTRA_COPIES_P)
    total = np.cumsum(sizes)
    last = int(np.searchsorted(total, n_records))
    sizes = sizes[: last + 1].copy()
    sizes[-1] -= int(total[last] - n_records)
    return sizes


def _location_fields(n: int, rng: np.random.Generator, unit_rate: float) -> dict[str, np.ndarray | pd.Series]:
    """Street address parts, city, ZIP and phone digits of ``n`` entities; rendered to text per record later."""
    city = _choice(rng, len(CITIES), n, _zipf_p(len(CITIES), 0.6))
    zip3 = _vocab([c[1] for c in CITIES], city)
    area = _vocab([c[2] for c in CITIES], city)
    return {
        "house": np.minimum(1 + rng.lognormal(5.0, 1.3, n).astype(np.int64), 19999),
        "direction": np.where(rng.random(n) < 0.12, rng.integers(0, len(DIRECTIONS), n), -1),
        "street": _choice(rng, len(STREET_NAMES), n, _zipf_p(len(STREET_NAMES), 0.7)),
        "street_type": _choice(rng, len(STREET_TYPES), n, STREET_TYPE_P),
        "unit": np.where(rng.random(n) < unit_rate, 1 + rng.lognormal(1.5, 1.0, n).astype(np.int64), 0),
        "city": city,
        "postcode": _cat(zip3, _digits(rng.integers(0, 100, n), 2)),
        "phone": _cat(area, _digits(rng.integers(200, 1000, n), 3), _digits(rng.integers(0, 10000, n), 4)),
    }


def _copy_columns(frame: pd.DataFrame, rows: np.ndarray, donors: np.ndarray, columns: list[str]) -> None:
    """Give ``rows`` the values of ``donors``: the planted hard non-duplicates (households, branches, shared buildings)."""
    for col in columns:
        frame.loc[rows, col] = frame.loc[donors, col].to_numpy()


def _make_unique(stem: pd.Series, rest: pd.Series, rng: np.random.Generator) -> pd.Series:
    """``stem`` with a number added where two different entities would otherwise get the same ``stem + rest``."""
    for _ in range(8):
        dup = _cat(stem, rest).duplicated().to_numpy()
        if not dup.any():
            break
        stem = _where(dup, _cat(stem, _digits(rng.integers(1, 10000, dup.size), 1)), stem)
    return stem


def _person_email_local(given: pd.Series, surname: pd.Series, year: np.ndarray, rng: np.random.Generator) -> pd.Series:
    """The part before @ in one of the layouts people pick."""
    g = given.str.lower()
    s = surname.str.lower().str.replace(r"[^a-z]", "", regex=True)
    parts = [g, s, g.str.slice(0, 1), _digits(year % 100, 2)]
    layouts: list[tuple[str | int, ...]] = [
        (0, ".", 1),
        (0, 1),
        (2, 1),
        (0, ".", 1, 3),
        (1, ".", 0),
        (0, "_", 1, 3),
        (2, ".", 1),
    ]
    return _compose(rng.choice(len(layouts), size=len(g), p=[0.3, 0.15, 0.15, 0.15, 0.08, 0.1, 0.07]), layouts, parts)


def _person_entities(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Clean person entities as parts (indices, numbers) to be rendered per record."""
    frame = pd.DataFrame(_location_fields(n, rng, unit_rate=0.2))
    frame["given"] = _choice(rng, len(GIVEN_NAMES), n, _zipf_p(len(GIVEN_NAMES), 0.8))
    frame["surname"] = _choice(rng, len(SURNAMES), n, _zipf_p(len(SURNAMES), 0.8))
    days = rng.integers(np.datetime64("1930-01-01").astype(np.int64), np.datetime64("2006-12-31").astype(np.int64), n)
    ymd = pd.DatetimeIndex(days.astype("datetime64[D]"))
    frame["year"], frame["month"], frame["day"] = ymd.year.to_numpy(), ymd.month.to_numpy(), ymd.day.to_numpy()
    household = np.flatnonzero(rng.random(n) < 0.06)
    _copy_columns(
        frame,
        household,
        rng.integers(0, n, household.size),
        ["house", "direction", "street", "street_type", "unit", "city", "postcode", "phone", "surname"],
    )
    given, surname = _vocab(GIVEN_NAMES, frame["given"].to_numpy()), _vocab(SURNAMES, frame["surname"].to_numpy())
    frame["domain"] = _vocab(EMAIL_DOMAINS, _choice(rng, len(EMAIL_DOMAINS), n, EMAIL_DOMAIN_P))
    frame["local"] = _make_unique(
        _person_email_local(given, surname, frame["year"].to_numpy(), rng), _cat("@", frame["domain"]), rng
    )
    return frame


def _company_slug(frame: pd.DataFrame) -> pd.Series:
    """The web-domain stem a company would register: its distinctive name words, lower case."""
    pattern = frame["pattern"].to_numpy()
    w1, w2 = _vocab(COMPANY_WORDS, frame["w1"].to_numpy()), _vocab(COMPANY_WORDS, frame["w2"].to_numpy())
    s1, s2 = _vocab(SURNAMES, frame["s1"].to_numpy()), _vocab(SURNAMES, frame["s2"].to_numpy())
    head, tail = (
        _vocab(COINED_HEADS, frame["w1"].to_numpy() % len(COINED_HEADS)),
        _vocab(COINED_TAILS, frame["w2"].to_numpy() % len(COINED_TAILS)),
    )
    trade = _vocab([i[0] for i in INDUSTRY_WORDS], frame["industry"].to_numpy())
    first = _choose(np.select([pattern == 2, pattern == 3, pattern == 4], [1, 1, 2], 0), [w1, s1, head])
    second = _choose(np.select([pattern == 1, pattern == 2, pattern == 4], [1, 2, 3], 0), [trade, w2, s2, tail])
    return _cat(first, second).str.lower().str.replace(r"[^a-z0-9]", "", regex=True)


def _company_entities(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Clean company entities as parts; a few branches share a name and domain, a few companies share a building."""
    frame = pd.DataFrame(_location_fields(n, rng, unit_rate=0.45))
    frame["pattern"] = rng.choice(5, size=n, p=[0.15, 0.35, 0.1, 0.15, 0.25])
    frame["w1"] = _choice(rng, len(COMPANY_WORDS), n, _zipf_p(len(COMPANY_WORDS), 0.5))
    frame["w2"] = _choice(rng, len(COMPANY_WORDS), n, _zipf_p(len(COMPANY_WORDS), 0.5))
    frame["s1"] = _choice(rng, len(SURNAMES), n, _zipf_p(len(SURNAMES), 0.7))
    frame["s2"] = _choice(rng, len(SURNAMES), n, _zipf_p(len(SURNAMES), 0.7))
    frame["industry"] = _choice(rng, len(INDUSTRY_WORDS), n)
    frame["industry_on"] = (frame["pattern"] != 2) & ((frame["pattern"] != 4) | (rng.random(n) < 0.5))
    frame["legal"] = _choice(rng, len(LEGAL_FORMS), n, LEGAL_FORM_P)
    frame["legal_variant"] = rng.choice(4, size=n, p=[0.6, 0.2, 0.1, 0.1])
    frame["the"] = (rng.random(n) < 0.05) & (frame["pattern"] <= 1)
    tld = _vocab(COMPANY_TLDS, rng.integers(0, len(COMPANY_TLDS), n))
    frame["domain"] = _cat(_make_unique(_company_slug(frame), _cat(".", tld), rng), ".", tld)
    branch = np.flatnonzero(rng.random(n) < 0.05)
    _copy_columns(
        frame,
        branch,
        rng.integers(0, n, branch.size),
        ["pattern", "w1", "w2", "s1", "s2", "industry", "industry_on", "legal", "legal_variant", "the", "domain"],
    )
    neighbour = np.flatnonzero(rng.random(n) < 0.03)
    _copy_columns(
        frame,
        neighbour,
        rng.integers(0, n, neighbour.size),
        ["house", "direction", "street", "street_type", "city", "postcode"],
    )
    frame["local"] = _vocab(EMAIL_BOXES, rng.integers(0, len(EMAIL_BOXES), n))
    return frame


def _expand(entities: pd.DataFrame, sizes: np.ndarray, order: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per record, already in the shuffled file order; ``is_copy`` marks all but an entity's first record.

    Shuffling the parts before rendering is the same as shuffling the records after, and cheaper."""
    entity = np.repeat(np.arange(sizes.size), sizes)
    starts = np.cumsum(sizes) - sizes
    rank = np.arange(entity.size) - starts[entity]
    return entities.iloc[entity[order]].reset_index(drop=True), rank[order] > 0


# ---------------------------------------------------------------- rendering records, corrupting copies


def _render_address(
    rows: pd.DataFrame, is_copy: np.ndarray, rng: np.random.Generator, unit_words: list[str]
) -> pd.Series:
    """Street line; each record picks its own way of writing street type, direction and unit."""
    n = len(rows)
    abbreviate = (rng.random(n) < 0.4).astype(np.int64)  # an entity's own records already disagree on Street vs St
    street_type = _variants(STREET_TYPES, rows["street_type"].to_numpy(), abbreviate)
    direction = rows["direction"].to_numpy()
    dir_word = _variants(DIRECTIONS, np.maximum(direction, 0), (rng.random(n) < 0.6).astype(np.int64))
    dir_part = _where(direction >= 0, _cat(" ", dir_word), "")
    unit = rows["unit"].to_numpy()
    keep_unit = (unit > 0) & ~(is_copy & (rng.random(n) < 0.3))
    sep = _where(rng.random(n) < 0.5, ", ", " ")
    unit_part = _where(
        keep_unit, _cat(sep, _vocab(unit_words, rng.integers(0, len(unit_words), n)), _digits(unit, 1)), ""
    )
    house = _apply_typos(_digits(rows["house"].to_numpy(), 1), _mask(rng, is_copy, 0.02), rng, ops=(2, 3))
    return _cat(house, dir_part, " ", _vocab(STREET_NAMES, rows["street"].to_numpy()), " ", street_type, unit_part)


def _render_city(rows: pd.DataFrame, is_copy: np.ndarray, rng: np.random.Generator) -> pd.Series:
    """City name, in a copy sometimes in its other common spelling (St. Louis, Ft Worth)."""
    city = rows["city"].to_numpy()
    return _where(
        _mask(rng, is_copy, 0.25), _vocab([c[3] or c[0] for c in CITIES], city), _vocab([c[0] for c in CITIES], city)
    )


def _render_postcode(rows: pd.DataFrame, is_copy: np.ndarray, rng: np.random.Generator) -> pd.Series:
    """Five-digit ZIP; some copies carry ZIP+4 or a mistyped digit."""
    zip5 = rows["postcode"]
    zip5 = _change(zip5, _mask(rng, is_copy, 0.04), lambda z: _cat(z, "-", _digits(rng.integers(0, 10000, len(z)), 4)))
    return _apply_typos(zip5, _mask(rng, is_copy, 0.03), rng, ops=(2, 3))


def _render_phone(rows: pd.DataFrame, is_copy: np.ndarray, rng: np.random.Generator) -> pd.Series:
    """The same ten digits in the layout each source system uses (+1 (312) 555-0101, 3125550101, ...)."""
    digits = _apply_typos(rows["phone"], _mask(rng, is_copy, 0.02), rng, ops=(2, 3))
    parts = [digits.str.slice(0, 3), digits.str.slice(3, 6), digits.str.slice(6, 10), digits]
    layouts: list[tuple[str | int, ...]] = [
        ("+1 (", 0, ") ", 1, "-", 2),
        ("(", 0, ") ", 1, "-", 2),
        (0, "-", 1, "-", 2),
        (3,),
        (0, ".", 1, ".", 2),
        ("+1", 3),
        ("1-", 0, "-", 1, "-", 2),
        (0, " ", 1, " ", 2),
    ]
    return _compose(
        rng.choice(len(layouts), size=len(rows), p=[0.2, 0.2, 0.2, 0.15, 0.08, 0.07, 0.05, 0.05]), layouts, parts
    )


def _other_local(rows: pd.DataFrame, where: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """Another mailbox of the same entity (john.smith@ vs jsmith@, info@ vs sales@), for the ``where`` rows only."""
    idx = np.flatnonzero(where)
    if "given" in rows:
        sub = rows.iloc[idx]
        given, surname = _vocab(GIVEN_NAMES, sub["given"].to_numpy()), _vocab(SURNAMES, sub["surname"].to_numpy())
        return _arrow(_person_email_local(given, surname, sub["year"].to_numpy(), rng))
    return _arrow(_vocab(EMAIL_BOXES, rng.integers(0, len(EMAIL_BOXES), idx.size)))


def _render_email(rows: pd.DataFrame, is_copy: np.ndarray, rng: np.random.Generator) -> pd.Series:
    """E-mail; copies differ in letter case, by a typo, or give the entity's other address."""
    other = _mask(rng, is_copy, 0.05)
    local = _series(pc.replace_with_mask(_arrow(rows["local"]), pa.array(other), _other_local(rows, other, rng)))
    domain = rows["domain"]
    email = _cat(local, "@", domain)
    titled = _mask(rng, is_copy, 0.10)
    email = _where(
        titled,
        _cat(
            _change(local, titled, lambda v: v.str.title()), "@", _change(domain, titled, lambda v: v.str.capitalize())
        ),
        email,
    )
    email = _change(email, _mask(rng, is_copy, 0.05), lambda v: v.str.upper())
    return _apply_typos(email, _mask(rng, is_copy, 0.04), rng)


def _render_given(rows: pd.DataFrame, is_copy: np.ndarray, rng: np.random.Generator) -> pd.Series:
    """Given name, or in a copy a nickname (Bill for William) or an initial."""
    given = rows["given"].to_numpy()
    full = _vocab(GIVEN_NAMES, given)
    nickname = _variants([NICKNAMES.get(name, (name,)) for name in GIVEN_NAMES], given, rng.integers(0, 2, len(rows)))
    initial = _cat(full.str.slice(0, 1), _where(rng.random(len(rows)) < 0.5, ".", ""))
    style = np.where(is_copy, rng.choice(3, size=len(rows), p=[0.85, 0.09, 0.06]), 0)
    return _choose(style, [full, nickname, initial])


def _render_dob(rows: pd.DataFrame, is_copy: np.ndarray, rng: np.random.Generator) -> pd.Series:
    """ISO date; a copy may swap day and month (still a valid ISO date) or miss a digit of the year or day."""
    year, month, day = (rows[c].to_numpy().copy() for c in ("year", "month", "day"))
    swap = _mask(rng, is_copy, 0.03) & (day <= 12) & (day != month)
    month[swap], day[swap] = day[swap], month[swap].copy()
    year_typo = _mask(rng, is_copy, 0.015)
    year[year_typo] += rng.choice([-10, -1, 1, 10], size=year_typo.sum())
    day_typo = _mask(rng, is_copy, 0.015)
    day[day_typo] = np.clip(day[day_typo] + rng.choice([-10, -1, 1, 10], size=day_typo.sum()), 1, 28)
    return _cat(_digits(year, 4), "-", _digits(month, 2), "-", _digits(day, 2))


def _render_company_name(rows: pd.DataFrame, is_copy: np.ndarray, rng: np.random.Generator) -> pd.Series:
    """Company name; copies write the legal form another way or drop it, abbreviate the trade word, use 'and' for '&'."""
    n = len(rows)
    w1, w2 = rows["w1"].to_numpy(), rows["w2"].to_numpy()
    trade_forms = [(full, short) if short else (full,) for full, short in INDUSTRY_WORDS]
    trade = _variants(trade_forms, rows["industry"].to_numpy(), _mask(rng, is_copy, 0.2).astype(np.int64))
    trade_part = _where(rows["industry_on"].to_numpy(), _cat(" ", trade), "")
    s1, s2 = _vocab(SURNAMES, rows["s1"].to_numpy()), _vocab(SURNAMES, rows["s2"].to_numpy())
    coined = _cat(_vocab(COINED_HEADS, w1 % len(COINED_HEADS)), _vocab(COINED_TAILS, w2 % len(COINED_TAILS)))
    amp = _where(_mask(rng, is_copy, 0.3), " and ", " & ")
    parts = [_vocab(COMPANY_WORDS, w1), _vocab(COMPANY_WORDS, w2), s1, s2, coined, trade_part, amp]
    patterns: list[tuple[str | int, ...]] = [(0, 5), (0, " ", 1, 5), (2, 6, 3), (2, 5), (4, 5)]
    body = _compose(rows["pattern"].to_numpy(), patterns, parts)
    body = _change(body, rows["the"].to_numpy() & ~_mask(rng, is_copy, 0.5), lambda v: _cat("The ", v))
    variant = np.where(_mask(rng, is_copy, 0.35), rng.integers(0, 4, n), rows["legal_variant"].to_numpy())
    legal = _variants(LEGAL_FORMS, rows["legal"].to_numpy(), variant)
    legal_part = _where(_mask(rng, is_copy, 0.15), "", _cat(_where(rng.random(n) < 0.15, ", ", " "), legal))
    name = _cat(body, legal_part)
    return _change(name, _mask(rng, is_copy, 0.06), lambda v: v.str.upper())


def _moved(rows: pd.DataFrame, is_copy: np.ndarray, rng: np.random.Generator, rate: float) -> pd.DataFrame:
    """Copies written after the entity moved: a new address, city, postcode and phone."""
    moved = np.flatnonzero(_mask(rng, is_copy, rate))
    if moved.size == 0:
        return rows
    rows = rows.copy()
    for col, values in _location_fields(moved.size, rng, unit_rate=0.2).items():
        rows.loc[moved, col] = np.asarray(values)
    return rows


def _degrade(
    records: pd.DataFrame,
    is_copy: np.ndarray,
    rng: np.random.Generator,
    typo_rate: dict[str, float],
    missing_rate: dict[str, tuple[float, float]],
) -> pd.DataFrame:
    """Typos and missing values per column; any record may miss a value, copies a little more often."""
    for col, rate in typo_rate.items():
        records[col] = _apply_typos(records[col], _mask(rng, is_copy, rate), rng)
    everyone = np.ones(len(records), dtype=bool)
    for col, (base_rate, copy_rate) in missing_rate.items():
        records[col] = _blank(records[col], _mask(rng, everyone, base_rate) | _mask(rng, is_copy, copy_rate))
    return records


def _person_records(rows: pd.DataFrame, is_copy: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Person records as written, copies corrupted the ways people and systems corrupt them."""
    rows = _moved(rows, is_copy, rng, 0.04)
    given, surname = _render_given(rows, is_copy, rng), _vocab(SURNAMES, rows["surname"].to_numpy())
    swap = _mask(rng, is_copy, 0.03)
    records = pd.DataFrame(
        {
            "given_name": _where(swap, surname, given),
            "surname": _where(swap, given, surname),
            "date_of_birth": _render_dob(rows, is_copy, rng),
            "address": _render_address(rows, is_copy, rng, UNIT_WORDS_PERSON),
            "city": _render_city(rows, is_copy, rng),
            "postcode": _render_postcode(rows, is_copy, rng),
            "phone": _render_phone(rows, is_copy, rng),
            "email": _render_email(rows, is_copy, rng),
        }
    )
    upper = _mask(rng, is_copy, 0.04)  # a legacy system that writes everything in capitals
    for col in ("given_name", "surname", "address", "city"):
        records[col] = _change(records[col], upper, lambda v: v.str.upper())
    typos = {"given_name": 0.07, "surname": 0.09, "address": 0.08, "city": 0.03}
    missing = {
        "given_name": (0.0, 0.01),
        "date_of_birth": (0.01, 0.04),
        "address": (0.01, 0.03),
        "city": (0.01, 0.03),
        "postcode": (0.01, 0.04),
        "phone": (0.08, 0.08),
        "email": (0.15, 0.10),
    }
    return _degrade(records, is_copy, rng, typos, missing)


def _company_records(rows: pd.DataFrame, is_copy: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Company records as written; copies corrupted the ways registries and CRMs corrupt them."""
    rows = _moved(rows, is_copy, rng, 0.03)
    records = pd.DataFrame(
        {
            "company_name": _render_company_name(rows, is_copy, rng),
            "address": _render_address(rows, is_copy, rng, UNIT_WORDS_COMPANY),
            "city": _render_city(rows, is_copy, rng),
            "postcode": _render_postcode(rows, is_copy, rng),
            "phone": _render_phone(rows, is_copy, rng),
            "email": _render_email(rows, is_copy, rng),
        }
    )
    typos = {"company_name": 0.08, "address": 0.08, "city": 0.03}
    missing = {
        "address": (0.01, 0.03),
        "city": (0.01, 0.03),
        "postcode": (0.02, 0.04),
        "phone": (0.05, 0.08),
        "email": (0.12, 0.10),
    }
    return _degrade(records, is_copy, rng, typos, missing)


def _true_pairs(ids: np.ndarray, sizes: np.ndarray) -> pd.DataFrame:
    """Every pair of ids within each entity (``ids`` in entity order), as the scorer expects them."""
    starts = np.cumsum(sizes) - sizes
    parts = []
    for j in range(1, int(sizes.max(initial=1))):
        for i in range(j):
            group = starts[sizes > j]
            parts.append(pd.DataFrame({"a": ids[group + i], "b": ids[group + j]}))
    if not parts:
        return pd.DataFrame({"a": pd.Series(dtype="str"), "b": pd.Series(dtype="str")})
    return pd.concat(parts, ignore_index=True)


def generate(n_records: int, kind: str = "person", seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n_records`` shuffled records of ``kind`` ('person' or 'company') and all true duplicate pairs (a, b)."""
    if kind not in ("person", "company"):
        raise ValueError(f"kind must be 'person' or 'company', not {kind!r}")
    rng = np.random.default_rng(seed)
    sizes = _group_sizes(n_records, rng)
    entities = _person_entities(sizes.size, rng) if kind == "person" else _company_entities(sizes.size, rng)
    order = rng.permutation(n_records)  # order[k]: the record (in entity order) written at line k
    rows, is_copy = _expand(entities, sizes, order)
    records = _person_records(rows, is_copy, rng) if kind == "person" else _company_records(rows, is_copy, rng)
    ids = _cat("p" if kind == "person" else "c", _digits(np.arange(n_records), len(str(max(n_records - 1, 1)))))
    records.insert(0, "id", ids)
    line_of = np.empty(n_records, dtype=np.int64)
    line_of[order] = np.arange(n_records)
    return records[PERSON_COLUMNS if kind == "person" else COMPANY_COLUMNS], _true_pairs(
        ids.to_numpy(dtype=object)[line_of], sizes
    )


def write(records: pd.DataFrame, pairs: pd.DataFrame, out: Path, fmt: str = "csv") -> Path:
    """Write records.csv|parquet and true_pairs.csv into ``out``; returns the records path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"records.{fmt}"
    if fmt == "parquet":
        records.to_parquet(path, index=False)
    else:
        records.to_csv(path, index=False)
    pairs.to_csv(out / "true_pairs.csv", index=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--kind", choices=["person", "company"], default="person")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="folder for records.csv|parquet and true_pairs.csv")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    args = parser.parse_args()
    start = time.perf_counter()
    records, pairs = generate(args.rows, args.kind, args.seed)
    generated = time.perf_counter() - start
    path = write(records, pairs, args.out, args.format)
    total = time.perf_counter() - start
    entities = len(records) - len(pd.unique(pairs["b"]))
    print(f"rows={len(records)} entities={entities} true_pairs={len(pairs)} kind={args.kind} file={path.name}")
    print(f"seconds_generate={generated:.2f} seconds_total={total:.2f} rows_per_second={len(records) / generated:,.0f}")


if __name__ == "__main__":
    main()
