"""Whitelist files: the attribute-aware format and the old two-column one, their errors, and the whitelists
shipped with kgcore (the demo world's, and the hand-labelled FB15k-237 one checked against the data)."""
from __future__ import annotations

import re
from collections import defaultdict

import pytest

from kgcore.data.spec import BUILTIN_SPECS
from kgcore.data.whitelist import (BUILTIN_WHITELISTS, WhitelistEntry, builtin_whitelist, builtin_whitelist_entries,
                                   builtin_whitelist_text, parse_whitelist, read_whitelist, read_whitelist_entries,
                                   resolve_whitelist, whitelist_pairs)
from kgcore.errors import DataError, SpecError

PROFESSION = "/people/person/profession"


def write(tmp_path, text: str, name: str = "whitelist.tsv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------- format
def test_new_format_gives_relation_tail_attribute_and_reasons(tmp_path):
    path = write(tmp_path, "# header\n"
                           "gender\t/music/group_member/membership./music/group_membership/role\t/m/0j210\t"
                           "the role is defined as a female voice type  # soprano\n"
                           "\n"
                           "religion\t/people/person/profession\tnun\tthe role is defined within a religion\n"
                           "*\t/people/person/place_of_birth\t*\tcitizenship law may follow the birthplace\n")
    assert read_whitelist(path) == [
        ["/music/group_member/membership./music/group_membership/role", "/m/0j210", "gender"],
        ["/people/person/profession", "nun", "religion"],
        ["/people/person/place_of_birth", "*", "*"],
    ]
    entries = read_whitelist_entries(path)
    assert entries[0] == WhitelistEntry("gender", "/music/group_member/membership./music/group_membership/role",
                                        "/m/0j210", "the role is defined as a female voice type", 2)
    assert [e.line for e in entries] == [2, 4, 5] and all(e.reason for e in entries)


def test_old_two_column_format_applies_to_every_attribute(tmp_path):
    path = write(tmp_path, "has_profession\tnurse\n# fine\nbirthplace\n  has_profession\tnun  \n")
    assert read_whitelist(path) == [["has_profession", "nurse", "*"], ["birthplace", "*", "*"],
                                    ["has_profession", "nun", "*"]]
    assert all(e.reason == "" and e.attribute == "*" for e in read_whitelist_entries(path))


def test_both_formats_mix_in_one_file(tmp_path):
    path = write(tmp_path, "has_profession\tnurse\ngender\thas_profession\tnun\tthe role is defined for women\n")
    assert read_whitelist(path) == [["has_profession", "nurse", "*"], ["has_profession", "nun", "gender"]]


@pytest.mark.parametrize("line, message", [
    ("has_profession\tnurse\textra", r"line 2: expected RELATION<TAB>TAIL .* got 3 tab-separated fields"),
    ("a\tb\tc\td\te", r"line 2: expected .*ATTRIBUTE<TAB>RELATION<TAB>TAIL<TAB>REASON; got 5"),
    ("gender\thas_profession\t\tthe role", r"line 2: empty TAIL"),
    ("gender\t\tnun\tthe role", r"line 2: empty RELATION"),
    ("\thas_profession\tnun\tthe role", r"line 2: empty ATTRIBUTE"),
    ("gender\thas_profession\tnun\t # no reason, only a comment", r"line 2: expected .* got 3 tab-separated"),
    ("\tnurse", r"line 2: empty RELATION"),
    ("has_profession\t\tnurse", r"line 2: expected .* got 3 tab-separated fields"),
    ("*\tnun", r"line 2: RELATION cannot be '\*'"),
    ("gender\t*\t*\tall of it", r"line 2: RELATION cannot be '\*'"),
])
def test_malformed_lines_name_the_file_and_line(tmp_path, line, message):
    path = write(tmp_path, f"# ok\n{line}\nhas_profession\tnurse\n")
    with pytest.raises(DataError, match=re.escape(str(path)) + ", " + message):
        read_whitelist(path)


def test_missing_directory_and_binary_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_whitelist(tmp_path / "none.tsv")
    with pytest.raises(DataError, match="not a file"):
        read_whitelist(tmp_path)
    binary = tmp_path / "binary.tsv"
    binary.write_bytes(b"has_profession\t\xff\n")
    with pytest.raises(DataError, match="not UTF-8"):
        read_whitelist(binary)


def test_empty_file_is_an_empty_whitelist(tmp_path):
    assert read_whitelist(write(tmp_path, "# nothing yet\n\n")) == []


def test_whitelist_pairs_drop_attributes_and_repeats():
    entries = [["r", "a", "gender"], ["r", "a", "religion"], ["s", "*", "*"], ["t", "b"]]
    assert whitelist_pairs(entries) == [["r", "a"], ["s", "*"], ["t", "b"]]


def test_three_element_entries_train_a_kl_model(toy_graph):
    """Entries name their attribute; the KL model keeps those of the attributes it debiases, and an attribute
    the graph does not have is an error naming it."""
    from .factories import untrained_model
    from .synthetic import PROFESSION as TOY_PROFESSION

    model = untrained_model(toy_graph, "kl", debias=["gender"],
                            options={"whitelist": [[TOY_PROFESSION, "nurse", "gender"], [TOY_PROFESSION, "*", "*"]]})
    assert model.whitelist_names == sorted([[TOY_PROFESSION, "nurse", "gender"], [TOY_PROFESSION, "*", "*"]])
    with pytest.raises(SpecError, match="'religion'"):
        untrained_model(toy_graph, "kl", debias=["gender"], options={"whitelist": [[TOY_PROFESSION, "nurse", "religion"]]})


# ---------------------------------------------------------------------------------------------- built-in
def test_builtin_whitelists_are_package_data():
    assert set(BUILTIN_WHITELISTS) == {"demo", "fb15k237"}
    for name in BUILTIN_WHITELISTS:
        assert builtin_whitelist_text(name).startswith("#")
        assert builtin_whitelist(name) == [e.as_list() for e in builtin_whitelist_entries(name)]
    with pytest.raises(SpecError, match="there are: demo, fb15k237"):
        builtin_whitelist("wikidata")


def test_demo_whitelist_is_the_default_whitelist():
    from kgcore.demo import DEFAULT_WHITELIST, DEMO_SPEC, demo_graph

    entries = builtin_whitelist_entries("demo")
    assert [e.as_list()[:2] for e in entries] == DEFAULT_WHITELIST
    assert {e.attribute for e in entries} == {"gender"} and all(e.reason for e in entries)
    assert set(DEMO_SPEC.attribute_names) >= {e.attribute for e in entries}
    graph = demo_graph()
    assert resolve_whitelist(builtin_whitelist("demo"), graph) == \
        [(r, t, "gender") for r, t, _ in resolve_whitelist([list(pair) for pair in DEFAULT_WHITELIST], graph)]


def test_parse_whitelist_names_its_source():
    with pytest.raises(DataError, match="kgcore/data/whitelists/x.tsv, line 1"):
        parse_whitelist("a\tb\tc\n", "kgcore/data/whitelists/x.tsv")


# ---------------------------------------------------------------------------------------------- FB15k-237
NONE_LINE = re.compile(r"^# (/m/\S+) (.+?): none \((.+)\)$")


@pytest.fixture(scope="module")
def fb15k_counts(fb15k_dir):
    """From the shared files: training relations and entities, and people per profession over all splits."""
    relations, entities, people = set(), set(), defaultdict(set)
    for split in ("train", "valid", "test"):
        for line in (fb15k_dir / f"{split}.txt").read_text(encoding="utf-8").splitlines():
            head, relation, tail = line.split("\t")
            if split == "train":
                relations.add(relation)
                entities.update((head, tail))
            if relation == PROFESSION:
                people[tail].add(head)
    return relations, entities, {p: len(heads) for p, heads in people.items()}


def test_fb15k237_whitelist_is_well_formed():
    entries = builtin_whitelist_entries("fb15k237")
    attributes = set(BUILTIN_SPECS["fb15k237"].attribute_names)
    assert attributes == {"gender", "religion", "ethnicity", "nationality"}
    assert entries and all(e.attribute in attributes for e in entries), "every entry names one of the spec's"
    assert all(len(e.reason.split()) >= 4 and e.reason[0].islower() for e in entries), "every entry has a reason"
    keys = [(e.attribute, e.relation, e.tail) for e in entries]
    assert len(keys) == len(set(keys)), "no entry is repeated"
    counts = defaultdict(int)
    for e in entries:
        counts[e.attribute] += 1
    assert set(counts) == attributes, f"each attribute is used somewhere: {dict(counts)}"
    kinds = {e.relation for e in entries if e.tail == "*"}
    assert {"/people/person/place_of_birth", "/people/person/languages"} <= kinds  # the paper's own examples


@pytest.mark.fb15k
def test_fb15k237_whitelist_names_relations_and_entities_of_the_graph(fb15k_counts, fb15k):
    relations, entities, _ = fb15k_counts
    entries = builtin_whitelist_entries("fb15k237")
    for e in entries:
        assert e.relation in relations, f"line {e.line}: {e.relation} is not a relation of train.txt"
        assert e.tail == "*" or e.tail in entities, f"line {e.line}: {e.tail} is not an entity of train.txt"
        assert e.relation not in {a.relation for a in BUILTIN_SPECS["fb15k237"].attributes}, \
            f"line {e.line}: a sensitive relation itself is not whitelisted"
    resolved = resolve_whitelist(builtin_whitelist("fb15k237"), fb15k)
    assert len(resolved) == len({tuple(entry) for entry in builtin_whitelist("fb15k237")})


@pytest.mark.fb15k
def test_fb15k237_whitelist_considers_every_profession_with_10_people(fb15k_counts):
    _, _, people = fb15k_counts
    large = {p for p, n in people.items() if n >= 10}
    assert len(large) == 72
    entries = [e for e in builtin_whitelist_entries("fb15k237") if e.relation == PROFESSION]
    assert all(e.tail in large for e in entries), "profession entries name professions with at least 10 people"
    none = {}
    for line in builtin_whitelist_text("fb15k237").splitlines():
        match = NONE_LINE.match(line)
        if match:
            none[match.group(1)] = match.group(3)
    labelled = {e.tail for e in entries}
    assert not labelled & set(none), f"both an entry and 'none': {labelled & set(none)}"
    assert labelled | set(none) == large, f"not considered: {sorted(large - labelled - set(none))}; " \
                                          f"too small: {sorted((labelled | set(none)) - large)}"
    assert all(len(reason.split()) >= 4 for reason in none.values())
    assert {("/m/01p5_g", "gender")} <= {(e.tail, e.attribute) for e in entries}  # pin-up girl
    assert "/m/05t4q" in none  # physician: the paper's doctor may use nothing
