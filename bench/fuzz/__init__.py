"""`siao fuzz`: schema-generated GraphQL documents and malformed HTTP requests, sent as
every kind of viewer, each answer checked: never a 5xx, always JSON whose every error
carries an `extensions.code`, never `INTERNAL_SERVER_ERROR`, never Python's own text.

Why a fuzzer: the failures of issue #12 were found by a careless or hostile client, not by
the hand-written tests (a null `first` variable, a NUL in a search, a lone surrogate in
an enum variable, `{"query": "{}"}`, a body that is not UTF-8). Documents come from the
exported schema through hypothesis-graphql, with hostile values (NUL, lone surrogates,
huge and negative integers, 20-digit and random cursors, real ids of the demo data),
inline or as variables (null, absent); malformed requests from a table of known shapes
and from hypothesis (random bytes, random JSON). Hypothesis draws them only (its phases
reduced to `generate`, seeded): every request is sent, every failure kept, and failures
are grouped by cause (status, codes, the server's exception) with the smallest request
of each group as its reproducer.

`siao fuzz [--documents N] [--http N] [--seed S] [--role R ...] [--url URL]` runs against
an app in this process on a fresh demo database (DATABASE_URL's server, or an embedded
one in a temp folder), or against a running dev server (`--url`, tokens minted with the
signing key of its data folder). See docs/fuzzing.md. tests/test_fuzz.py runs a bounded
number of each in the normal test run.

The modules, in the order a run uses them: `viewers` (who sends), `values` (hostile and
plain scalars), `documents` (schema-generated requests), `malformed` (the table of known
shapes and random requests), `oracle` (what every answer must be), `sending` (sending and
judging), `report` (failures grouped by cause) and `command` (the command line).
"""
