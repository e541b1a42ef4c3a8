"""Splink 5 (DuckDB backend) as the reference duplicate finder that `opsgate dedupe` is compared with.

    python3 -m uv run --group bench python benchmarks/splink_baseline.py FILE --id-column id --kind person --out PREDICTIONS.jsonl
        [--columns given_name=first_name,date_of_birth=dob] [--review 0.5] [--duplicate 0.9] [--max-pairs-u 5e6] [--max-cluster 20]

FILE is CSV or Parquet with the columns of benchmarks/record_generator.py (person: given_name,
surname, date_of_birth, address, city, postcode, phone, email; company: company_name, address,
city, postcode, phone, email). ``--columns`` names the file's column for each of these where it is
called otherwise; a column the file does not have is left out, with the comparisons and blocking
rules that need it, so public record sets with fewer columns get the same model less those parts.
It is run as its own process so its wall time and peak memory can be measured from outside.

The model is set up the way Splink's own deduplication examples do it, unsupervised:
- light cleaning any Splink user would do (lower case, punctuation out, phone as its last 10
  digits, ZIP as 5 digits; for companies legal forms such as Inc/GmbH/Sdn Bhd dropped);
- comparisons: ForenameSurnameComparison (with term frequencies), DateOfBirthComparison, Jaro-Winkler
  on address and city, Levenshtein on postcode and phone, EmailComparison;
- blocking rules for prediction: surname+date_of_birth, given_name+postcode, email, phone,
  postcode+date_of_birth (companies: name, phone, email, name prefix+postcode, postcode+address prefix);
- the probability that two records match from deterministic rules, u by random sampling, m by
  expectation maximisation on two blocking rules (name, date of birth; companies: name, postcode).

Output, in the shape of `opsgate dedupe --json` (one JSON object per line):
- "duplicate": both records end in the same cluster when pairs with match probability >= --duplicate
  (0.9) are joined into connected components, Splink's own answer to "which records are one
  entity". Pairs only linked through a third record get the weakest link of their cluster as score.
  Clusters larger than --max-cluster are chains of errors, not entities: there only directly scored
  pairs >= 0.9 count as duplicates.
- "review": directly scored pairs with --review (0.5) <= probability < --duplicate in different clusters.
- "reasons": each comparison's agreement level scaled to 0..1 (1 = exact agreement, 0 = the else level).
Prints the number of records and pairs, seconds per stage and in total, and peak memory.
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

if TYPE_CHECKING:
    from splink.internals.blocking_rule_creator import BlockingRuleCreator
    from splink.internals.comparison_creator import ComparisonCreator

COLUMNS = {
    "person": ["given_name", "surname", "date_of_birth", "address", "city", "postcode", "phone", "email"],
    "company": ["company_name", "address", "city", "postcode", "phone", "email"],
}

# Legal forms as they read after lower-casing and dropping dots ("S.r.l." -> "srl", "Sdn. Bhd." -> "sdn bhd").
LEGAL_FORMS = (
    "incorporated|inc|limited|ltd|llc|gmbh|bv|sdn bhd|sdnbhd|corporation|corp|company|co|public limited company|plc|"
    "proprietary limited|pty ltd|pty|sa|sas|ag|nv|llp|srl|oy|ab"
)


def text(column: str) -> str:
    """SQL: lower case, letters, digits and single spaces only; empty becomes null, which Splink treats as unknown."""
    return f"""nullif(trim(regexp_replace(regexp_replace(lower("{column}"), '[^a-z0-9 ]', ' ', 'g'), '\\s+', ' ', 'g')), '')"""


def digits(column: str, keep: str) -> str:
    """SQL: only the digits of a value, then ``keep`` (e.g. ``right({}, 10)``), so +1 (312) 555-0101 equals 3125550101."""
    only_digits = f"""regexp_replace("{column}", '[^0-9]', '', 'g')"""
    return f"nullif({keep.format(only_digits)}, '')"


def company_name() -> str:
    """SQL: the company name without 'The', punctuation and a trailing legal form, the usual pre-processing for names."""
    name = """regexp_replace(replace(replace(lower("company_name"), '.', ''), '&', ' and '), '[^a-z0-9 ]', ' ', 'g')"""
    name = f"""trim(regexp_replace({name}, '\\s+', ' ', 'g'))"""
    name = f"""regexp_replace({name}, '^the ', '')"""
    for _ in range(2):  # "Pty Ltd" and the like: strip twice
        name = f"""trim(regexp_replace({name}, '(^| )({LEGAL_FORMS})$', ''))"""
    return f"nullif({name}, '')"


def cleaned_select(kind: str, id_column: str, present: set[str]) -> str:
    """The SELECT list that turns raw records into the columns the Splink model compares (those ``present``)."""
    cleaned = {
        "address": text("address"),
        "city": text("city"),
        "postcode": digits("postcode", "left({}, 5)"),
        "phone": digits("phone", "right({}, 10)"),
        "email": "nullif(lower(trim(\"email\")), '')",
        "given_name": text("given_name"),
        "surname": text("surname"),
        "date_of_birth": """nullif(trim("date_of_birth"), '')""",
        "company_name": company_name(),
    }
    chosen = [f'"{id_column}"', *(f"{cleaned[c]} as {c}" for c in COLUMNS[kind] if c in present)]
    if kind == "person" and {"given_name", "surname"} <= present:
        chosen.append(f"""nullif(concat_ws(' ', {text("given_name")}, {text("surname")}), '') as full_name""")
    if kind == "company" and "email" in present:
        chosen.append("""regexp_extract(lower("email"), '@(.+)$', 1) as email_domain""")
    return ", ".join(chosen)


def load(
    con: duckdb.DuckDBPyConnection, path: Path, kind: str, id_column: str, renamed: dict[str, str]
) -> tuple[int, set[str]]:
    """Read FILE into DuckDB as the cleaned table ``records``; every column as text, as the file has it.

    Returns the number of records and the model's columns the file has (``renamed``: model column -> file column).
    """
    source = (
        f"read_parquet('{path}')"
        if path.suffix.lower() == ".parquet"
        else f"read_csv('{path}', all_varchar = true, header = true)"
    )
    columns = {row[0] for row in con.execute(f"describe select * from {source}").fetchall()}
    if id_column not in columns:
        raise SystemExit(f"{path.name}: no column {id_column}")
    present = {c for c in COLUMNS[kind] if renamed.get(c, c) in columns}
    names = {"person": {"given_name", "surname"}, "company": {"company_name"}}[kind]
    if not present & names:
        raise SystemExit(f"{path.name}: no name column ({', '.join(sorted(names))}) for kind {kind}")
    as_model = ", ".join(f'"{renamed.get(c, c)}" as {c}' for c in sorted(present))
    cast = f'select cast("{id_column}" as varchar) as "{id_column}", {as_model} from {source}'
    con.execute(
        f"create table records as select {cleaned_select(kind, id_column, present)} from ({cast})"
    ).fetchall()  # fetched: DuckDB keeps a connection busy until then
    return int(con.execute("select count(*) from records").fetchall()[0][0]), present


Model = tuple[
    list["ComparisonCreator"], list["BlockingRuleCreator"], list["BlockingRuleCreator"], list["BlockingRuleCreator"]
]


def _kept(parts: list[tuple[tuple[str, ...], object]], present: set[str]) -> list:
    """The comparisons or rules whose columns the file has."""
    return [part for needs, part in parts if set(needs) <= present]


def person_model(present: set[str]) -> Model:
    """Comparisons, prediction blocking rules, deterministic rules (for λ) and EM rules for people."""
    names = [
        (
            ("given_name", "surname"),
            cl.ForenameSurnameComparison("given_name", "surname", forename_surname_concat_col_name="full_name"),
        )
    ]
    if not {"given_name", "surname"} <= present:  # one name column: the usual name comparison on it alone
        names = [
            ((c,), cl.NameComparison(c).configure(term_frequency_adjustments=True)) for c in ("given_name", "surname")
        ]
    comparisons = _kept(
        [
            *names,
            (("date_of_birth",), cl.DateOfBirthComparison("date_of_birth", input_is_string=True)),
            (("address",), cl.JaroWinklerAtThresholds("address", [0.97, 0.9, 0.8])),
            (("city",), cl.JaroWinklerAtThresholds("city", [0.9]).configure(term_frequency_adjustments=True)),
            (("postcode",), cl.LevenshteinAtThresholds("postcode", [1])),
            (("phone",), cl.LevenshteinAtThresholds("phone", [1])),
            (("email",), cl.EmailComparison("email")),
        ],
        present,
    )
    blocking = _kept(
        [
            (("surname", "date_of_birth"), block_on("surname", "date_of_birth")),
            (("given_name", "postcode"), block_on("given_name", "postcode")),
            (("email",), block_on("email")),
            (("phone",), block_on("phone")),
            (("postcode", "date_of_birth"), block_on("postcode", "date_of_birth")),
            (("given_name", "date_of_birth"), block_on("given_name", "date_of_birth")),
            (("given_name", "surname"), block_on("given_name", "surname")),
        ],
        present,
    )
    deterministic = _kept(
        [
            (("given_name", "surname", "date_of_birth"), block_on("given_name", "surname", "date_of_birth")),
            (("email",), block_on("email")),
        ],
        present,
    )
    training = _kept(
        [
            (("given_name", "surname"), block_on("given_name", "surname")),
            (("date_of_birth",), block_on("date_of_birth")),
        ],
        present,
    )
    return comparisons, blocking, deterministic, training


def company_model(present: set[str]) -> Model:
    """Comparisons, prediction blocking rules, deterministic rules (for λ) and EM rules for companies."""
    email = cl.CustomComparison(
        [cll.NullLevel("email"), cll.ExactMatchLevel("email"), cll.ExactMatchLevel("email_domain"), cll.ElseLevel()],
        output_column_name="email",
    )
    comparisons = _kept(
        [
            (
                ("company_name",),
                cl.JaroWinklerAtThresholds("company_name", [0.95, 0.88, 0.7]).configure(
                    term_frequency_adjustments=True
                ),
            ),
            (("address",), cl.JaroWinklerAtThresholds("address", [0.97, 0.9, 0.8])),
            (("city",), cl.JaroWinklerAtThresholds("city", [0.9]).configure(term_frequency_adjustments=True)),
            (("postcode",), cl.LevenshteinAtThresholds("postcode", [1])),
            (("phone",), cl.LevenshteinAtThresholds("phone", [1])),
            (("email",), email),
        ],
        present,
    )
    blocking = _kept(
        [
            (("company_name",), block_on("company_name")),
            (("phone",), block_on("phone")),
            (("email",), block_on("email")),
            (("company_name", "postcode"), block_on("substr(company_name, 1, 5)", "postcode")),
            (("postcode", "address"), block_on("postcode", "substr(address, 1, 6)")),
        ],
        present,
    )
    deterministic = _kept(
        [(("company_name", "postcode"), block_on("company_name", "postcode")), (("email",), block_on("email"))], present
    )
    training = _kept([(("company_name",), block_on("company_name")), (("postcode",), block_on("postcode"))], present)
    return comparisons, blocking, deterministic, training


def train(
    linker: Linker,
    deterministic: list[BlockingRuleCreator],
    training: list[BlockingRuleCreator],
    max_pairs_u: float,
    max_pairs_em: float,
) -> None:
    """λ from deterministic rules, u by random sampling, m by EM: Splink's unsupervised recipe."""
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs_u, seed=1)
    for rule in training:
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True, max_pairs=max_pairs_em
        )


def comparison_levels(linker: Linker) -> dict[str, int]:
    """Output column name -> highest agreement level (gamma) of each comparison, to scale reasons to 0..1."""
    model = linker.misc.save_model_to_json()
    return {
        c["output_column_name"]: sum(1 for level in c["comparison_levels"] if not level.get("is_null_level")) - 1
        for c in model["comparisons"]
    }


def pairs_sql(
    predictions: str, clusters: str, id_column: str, levels: dict[str, int], duplicate: float, max_cluster: int
) -> str:
    """One row per emitted pair, already in the contract's shape: scored pairs >= review, plus pairs joined only through their cluster."""
    reasons = ", ".join(
        f"""{{'k': '{name}', 'v': case when pred."gamma_{name}" >= 0 then round(pred."gamma_{name}" / {top}, 3) end}}"""
        for name, top in levels.items()
        if top > 0
    )
    return f"""
    with pred as (
        select least("{id_column}_l", "{id_column}_r") as a, greatest("{id_column}_l", "{id_column}_r") as b, match_probability as p, *
        from {predictions}),
    clusters as (select cluster_id, "{id_column}" as id from {clusters}),
    sizes as (select cluster_id, count(*) as n from clusters group by cluster_id),
    small as (select c.cluster_id, c.id from clusters c join sizes s using (cluster_id) where s.n between 2 and {max_cluster}),
    weakest as (
        select ca.cluster_id, min(pred.p) as p from pred
        join clusters ca on ca.id = pred.a join clusters cb on cb.id = pred.b and cb.cluster_id = ca.cluster_id
        where pred.p >= {duplicate} group by ca.cluster_id),
    within as (
        select x.id as a, y.id as b, w.p as cluster_p from small x
        join small y on x.cluster_id = y.cluster_id and x.id < y.id join weakest w on w.cluster_id = x.cluster_id)
    select coalesce(pred.a, within.a) as a, coalesce(pred.b, within.b) as b, round(coalesce(pred.p, within.cluster_p), 4) as score,
           case when within.a is not null or pred.p >= {duplicate} then 'duplicate' else 'review' end as decision,
           map_from_entries(list_filter([{reasons}], lambda e: e.v is not null)) as reasons
    from pred full outer join within on pred.a = within.a and pred.b = within.b
    """


def write_pairs(con: duckdb.DuckDBPyConnection, sql: str, out: Path) -> tuple[int, int]:
    """Write the contract's JSON lines straight from DuckDB (a Python loop would add seconds per million pairs to
    Splink's time); returns (duplicates, reviews)."""
    con.execute(f"create temp table emitted as {sql}").fetchall()
    path = str(out).replace("'", "''")
    con.execute(f"copy emitted to '{path}' (format json)").fetchall()
    counts = dict(con.execute("select decision, count(*) from emitted group by decision").fetchall())
    return int(counts.get("duplicate", 0)), int(counts.get("review", 0))


def peak_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path, help="records, CSV or Parquet")
    parser.add_argument("--id-column", default="id")
    parser.add_argument("--kind", choices=sorted(COLUMNS), default="person")
    parser.add_argument(
        "--columns",
        default="",
        help="the file's names for the model's columns where they differ: \"given_name=first_name,date_of_birth=dob\"",
    )
    parser.add_argument("--out", type=Path, required=True, help="JSON lines, one candidate pair per line")
    parser.add_argument("--review", type=float, default=0.5, help="lowest match probability written (as review)")
    parser.add_argument(
        "--duplicate", type=float, default=0.9, help="match probability at which records are clustered as duplicates"
    )
    parser.add_argument("--max-pairs-u", type=float, default=5e6, help="random pairs sampled to estimate u")
    parser.add_argument("--max-pairs-em", type=float, default=2e6, help="blocked pairs sampled per EM session")
    parser.add_argument(
        "--max-cluster", type=int, default=20, help="largest cluster whose record pairs all count as duplicates"
    )
    parser.add_argument("--verbose", action="store_true", help="Splink's own progress log on stderr")
    args = parser.parse_args()

    stages: dict[str, float] = {}
    start = mark = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        stages[name] = now - mark
        mark = now

    con = duckdb.connect()
    renamed = dict(item.split("=", 1) for item in args.columns.split(",") if "=" in item)
    n, present = load(con, args.file, args.kind, args.id_column, renamed)
    stage("load")
    comparisons, blocking, deterministic, training = (
        person_model(present) if args.kind == "person" else company_model(present)
    )
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name=args.id_column,
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        retain_intermediate_calculation_columns=True,
    )
    db_api = DuckDBAPI(connection=con)
    linker = Linker(db_api.register("records"), settings, log_level=logging.INFO if args.verbose else logging.WARNING)
    train(linker, deterministic, training, args.max_pairs_u, args.max_pairs_em)
    stage("train")
    predictions = linker.inference.predict(threshold_match_probability=args.review, warning_mode="never")
    stage("predict")
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=args.duplicate
    )
    stage("cluster")
    sql = pairs_sql(
        predictions.physical_name,
        clusters.physical_name,
        args.id_column,
        comparison_levels(linker),
        args.duplicate,
        args.max_cluster,
    )
    duplicates, reviews = write_pairs(con, sql, args.out)
    stage("write")
    total = time.perf_counter() - start
    print(f"records={n} kind={args.kind} duplicate_pairs={duplicates} review_pairs={reviews}")
    print(" ".join(f"{name}_seconds={seconds:.2f}" for name, seconds in stages.items()))
    print(f"seconds={total:.2f} records_per_second={n / total:,.0f} peak_mb={peak_mb():.0f}")


if __name__ == "__main__":
    sys.exit(main())
