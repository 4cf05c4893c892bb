"""The demo world's generator: a seeded, synthetic knowledge graph shaped like the people part of Wikidata.

How the world is wired, and why:

- Gender is recorded as binary (``gender:male`` / ``gender:female``), as it is for almost all people in
  Wikidata and for all of them in FB15k-237. About four men for every woman, as in those graphs.
- Profession (``occupation``) is the only fact that depends on gender, allocated by quota from
  ``PROFESSION_SKEWS``; the seed changes who holds which profession and every other fact. Everything else
  a person has (birthplace, citizenship, religion, ethnic group, education, employer, field of work,
  awards, spouse, languages, instruments, teams, parties) is drawn from the person's professions and
  country only, so a model can read gender from the other facts only *through* the profession. Spouses in
  particular are paired without regard to gender (in real data a spouse's gender usually reveals one's own).
- Religion, ethnic group and citizenship follow the country of birth and are independent of profession,
  so the bias measured for them on this world is a noise baseline; gender is the attribute with signal.

``generate_demo_world`` returns plain triples; ``demo_graph`` wraps them in a ``KnowledgeGraph`` (cached).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..data.graph import KnowledgeGraph
from ..data.triples import Triple
from .config import DemoWorldConfig, profession_quotas, round_half_up
from .skews import DEFAULT_WHITELIST, PROFESSION_SKEWS, PROFESSIONS
from .vocabulary import (AWARD_FIELD, AWARD_RECEIVED, BORN_IN, CITIZENSHIP, CITY_NAMES, COUNTRIES, COUNTRY,
                         DEMO_SPEC, EDUCATED_AT, EMPLOYER, ETHNIC_GROUP, FAMILY_AWARD_RATE, FAMILY_AWARDS,
                         FAMILY_EDUCATION_RATE, FAMILY_EMPLOYER_RATE, FAMILY_NAMES, FAMILY_SCHOOL, FEMALE,
                         FIELD_OF_WORK, GENDER, GIVEN_NAMES, INSTRUMENT, LANGUAGES_SPOKEN, LOCATED_IN, MALE,
                         MEMBER_OF_POLITICAL_PARTY, MEMBER_OF_SPORTS_TEAM, MINORITY_GROUPS, OCCUPATION,
                         OFFICIAL_LANGUAGE, PART_OF, PROFESSION_FIELDS, PROFESSION_INSTRUMENTS, PROFESSION_SECTOR,
                         REGIONAL_LANGUAGES, REGIONS, RELIGION, RELIGIONS, SCHOOL_NAMES, SECTOR_NAMES, SPOUSE,
                         SYNTHETIC_NOTICE, occupation_id)



def _rng(config: DemoWorldConfig, stage: str) -> random.Random:
    """One independent stream per stage, so changing one stage leaves the others' draws unchanged.

    String seeds are hashed with SHA-512 by ``random``, so the streams are the same on every platform
    and Python version (unaffected by PYTHONHASHSEED)."""
    return random.Random(f"kgcore-demo:{config.seed}:{stage}")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_").replace("__", "_")


@dataclass
class _Place:
    key: str
    label: str
    country: int


class _World:
    """Collects triples and labels while the stages run."""

    def __init__(self, config: DemoWorldConfig) -> None:
        self.config = config
        self.triples: list[Triple] = []
        self.spouse_pairs: list[tuple[Triple, Triple]] = []
        self.labels: dict[str, str] = {}

    def entity(self, kind: str, name: str, label: str | None = None) -> str:
        key = f"{kind}:{_slug(name)}"
        self.labels.setdefault(key, label or name)
        return key

    def add(self, head: str, relation: str, tail: str) -> None:
        self.triples.append((head, relation, tail))


def _build_geography(world: _World) -> dict[str, Any]:
    config = world.config
    countries, cities_by_country, languages, religion_weights, ethnic_groups = [], [], [], [], []
    regions = [world.entity("region", name) for name in REGIONS]
    for c, (name, region, _) in enumerate(COUNTRIES[: config.n_countries]):
        country = world.entity("country", name)
        countries.append(country)
        world.add(country, PART_OF, regions[region])
        language = world.entity("language", f"{name}ian", f"{name}ian language")
        languages.append(language)
        world.add(country, OFFICIAL_LANGUAGE, language)
        cities = []
        for city_name in CITY_NAMES[c]:
            city = world.entity("city", city_name)
            world.add(city, COUNTRY, country)
            cities.append(_Place(city, city_name, c))
        cities_by_country.append(cities)
        # Religion: the region's dominant faith, a neighbouring region's, and the everywhere-minority.
        weights = {RELIGIONS[region]: 0.7, RELIGIONS[(region + 1) % 4]: 0.15, RELIGIONS[4]: 0.15}
        religion_weights.append({world.entity("religion", r): w for r, w in weights.items()})
        majority = world.entity("ethnic_group", f"{name}ians")
        minority = world.entity("ethnic_group", MINORITY_GROUPS[region])
        ethnic_groups.append({majority: 0.75, minority: 0.25})
    regional = [world.entity("language", name) for name in REGIONAL_LANGUAGES]
    return {"countries": countries, "cities": cities_by_country, "languages": languages,
            "regional_languages": regional, "religions": religion_weights, "ethnic_groups": ethnic_groups,
            "population": [w for _, _, w in COUNTRIES[: config.n_countries]],
            "region_of": [region for _, region, _ in COUNTRIES[: config.n_countries]]}


def _build_organisations(world: _World, geo: dict[str, Any]) -> dict[str, Any]:
    """Schools, employers, teams and parties: one of each kind per country, in a fixed city."""
    schools: dict[tuple[str, int], str] = {}
    employers: dict[tuple[str, int], str] = {}
    teams: dict[tuple[str, int], list[str]] = {}
    parties: dict[int, list[str]] = {}
    for c, country in enumerate(geo["countries"]):
        country_name = world.labels[country]
        cities = geo["cities"][c]
        for i, (kind, pattern) in enumerate(sorted(SCHOOL_NAMES.items())):
            city = cities[0] if kind == "university" else cities[i % len(cities)]
            school = world.entity("org", pattern.format(city=city.label))
            world.add(school, LOCATED_IN, city.key)
            schools[(kind, c)] = school
        for i, (sector, pattern) in enumerate(sorted(SECTOR_NAMES.items())):
            city = cities[0] if sector == "university" else cities[(i + c) % len(cities)]
            name = pattern.format(city=city.label, country=country_name)
            employer = world.entity("org", name)
            world.add(employer, LOCATED_IN, city.key)  # repeats (a university is also a school) are merged
            employers[(sector, c)] = employer
        teams[("football", c)] = []
        for i, pattern in enumerate(("FC {city}", "{city} Rovers")):
            team = world.entity("team", pattern.format(city=cities[i].label))
            world.add(team, LOCATED_IN, cities[i].key)
            teams[("football", c)].append(team)
        athletics = world.entity("team", f"{cities[2].label} Athletic Club")
        world.add(athletics, LOCATED_IN, cities[2].key)
        teams[("athletics", c)] = [athletics]
        parties[c] = []
        for pattern in ("{country} Progressive Party", "{country} Civic Union", "{country} Labour Front"):
            party = world.entity("party", pattern.format(country=country_name))
            world.add(party, COUNTRY, country)
            parties[c].append(party)
    awards: dict[str, list[str]] = {}
    for family, names in FAMILY_AWARDS.items():
        awards[family] = []
        for name in names:
            award = world.entity("award", name)
            world.add(award, FIELD_OF_WORK, world.entity("field", AWARD_FIELD[family]))
            awards[family].append(award)
    return {"schools": schools, "employers": employers, "teams": teams, "parties": parties, "awards": awards}


def _assign_professions(config: DemoWorldConfig) -> tuple[list[str], list[list[str]]]:
    """Gender and professions per person, by quota (see ``profession_quotas``).

    Each gender's profession slots are shuffled; the first one per person is that person's main
    profession, and every further slot goes to a person of the same gender who does not hold it yet
    (at most three each), preferably one whose main profession is of the same family, so that people
    with several professions mostly hold related ones (actor and film producer, not nurse and banker)."""
    rng = _rng(config, "professions")
    quotas = profession_quotas(config)
    total_slots = sum(w + m for w, m in quotas.values())
    female_slots = sum(w for w, _ in quotas.values())
    n_female = round_half_up(female_slots / config.professions_per_person)
    # Everyone holds 1 to 3 professions, so each gender needs as many slots as people and at most 3 each.
    n_female = min(max(n_female, -(-female_slots // 3), config.n_people - (total_slots - female_slots)),
                   female_slots, config.n_people - -(-(total_slots - female_slots) // 3))
    order = list(range(config.n_people))
    rng.shuffle(order)
    genders = [MALE] * config.n_people
    for person in order[:n_female]:
        genders[person] = FEMALE
    family_of = {p.key: p.family for p in PROFESSION_SKEWS}
    professions: list[list[str]] = [[] for _ in range(config.n_people)]
    for gender, index in ((FEMALE, 0), (MALE, 1)):
        people = [p for p in order if genders[p] == gender]
        slots = [p.key for p in PROFESSION_SKEWS for _ in range(quotas[p.key][index])]
        rng.shuffle(slots)
        open_by_family: dict[str, list[int]] = {}
        for person, key in zip(people, slots):
            professions[person].append(key)
            open_by_family.setdefault(family_of[key], []).append(person)
        everyone = list(people)
        for key in slots[len(people):]:
            holder = None
            for candidates in (open_by_family.get(family_of[key], []), everyone):
                eligible = [p for p in candidates if len(professions[p]) < 3 and key not in professions[p]]
                if eligible:
                    holder = rng.choice(eligible)
                    break
            if holder is None:  # cannot happen while slots <= 3 * people, but never loop forever
                continue
            professions[holder].append(key)
    return genders, professions


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _name_people(config: DemoWorldConfig, genders: list[str]) -> list[str]:
    """Readable, unique names; given names follow the recorded gender (labels only: no triple uses them)."""
    rng = _rng(config, "names")
    counts: dict[str, int] = {}
    names = []
    for gender in genders:
        name = f"{rng.choice(GIVEN_NAMES[gender])} {rng.choice(FAMILY_NAMES)}"
        counts[name] = counts.get(name, 0) + 1
        names.append(name if counts[name] == 1 else f"{name} ({counts[name]})")
    return names


def _build_people(world: _World, geo: dict[str, Any], orgs: dict[str, Any]) -> None:
    config = world.config
    genders, professions = _assign_professions(config)
    names = _name_people(config, genders)
    width = max(4, len(str(config.n_people - 1)))
    people = [f"person:{i:0{width}d}" for i in range(config.n_people)]
    for person, name in zip(people, names):
        world.labels[person] = name
    for profession in PROFESSION_SKEWS:
        world.labels[occupation_id(profession.key)] = profession.label
    world.labels[MALE], world.labels[FEMALE] = "male", "female"

    # Every draw below depends on the person's professions and country only, never on gender.
    rng = _rng(config, "facts")
    n_countries = len(geo["countries"])
    home = []
    for i, person in enumerate(people):
        world.add(person, GENDER, genders[i])
        for key in professions[i]:
            world.add(person, OCCUPATION, occupation_id(key))
        primary = PROFESSIONS[professions[i][0]]
        family = primary.family
        c = rng.choices(range(n_countries), weights=geo["population"])[0]
        home.append(c)
        if rng.random() < config.birthplace_rate:
            world.add(person, BORN_IN, rng.choice(geo["cities"][c]).key)
        if rng.random() < config.citizenship_rate:
            citizen_of = c if rng.random() < 0.85 else rng.randrange(n_countries)  # some moved
            world.add(person, CITIZENSHIP, geo["countries"][citizen_of])
            if rng.random() < 0.05 and citizen_of == c:  # dual citizenship
                other = rng.randrange(n_countries)
                if other != c:
                    world.add(person, CITIZENSHIP, geo["countries"][other])
        # Clergy, nuns and monks always record a faith; others sometimes do.
        if family == "religion" or rng.random() < config.religion_rate:
            world.add(person, RELIGION, _weighted(rng, geo["religions"][c]))
        if rng.random() < config.ethnicity_rate:
            world.add(person, ETHNIC_GROUP, _weighted(rng, geo["ethnic_groups"][c]))
        if rng.random() < config.language_rate:
            world.add(person, LANGUAGES_SPOKEN, geo["languages"][c])
            if rng.random() < 0.4:
                world.add(person, LANGUAGES_SPOKEN, geo["regional_languages"][geo["region_of"][c]])

        def abroad() -> int:
            """Where an organisation of this person is: 80% in their home country, else anywhere."""
            return c if rng.random() < 0.8 else rng.randrange(n_countries)

        if rng.random() < FAMILY_EDUCATION_RATE[family]:
            school = "university" if primary.key in ("professor", "teacher", "scientist") and rng.random() < 0.6 \
                else FAMILY_SCHOOL[family]
            world.add(person, EDUCATED_AT, orgs["schools"][(school, abroad())])
        sector = PROFESSION_SECTOR[primary.key]
        if sector and rng.random() < FAMILY_EMPLOYER_RATE[family]:
            world.add(person, EMPLOYER, orgs["employers"][(sector, abroad())])
        for key in professions[i]:
            if rng.random() < config.field_of_work_rate:
                options = PROFESSION_FIELDS[key]
                field = options[0] if len(options) == 1 or rng.random() < 0.6 else rng.choice(options[1:])
                world.add(person, FIELD_OF_WORK, world.entity("field", field))  # repeats are merged
            if key in PROFESSION_INSTRUMENTS and rng.random() < 0.6:
                world.add(person, INSTRUMENT, world.entity("instrument", rng.choice(PROFESSION_INSTRUMENTS[key])))
        if "football_player" in professions[i] and rng.random() < 0.8:
            world.add(person, MEMBER_OF_SPORTS_TEAM, rng.choice(orgs["teams"][("football", abroad())]))
        if "athlete" in professions[i] and rng.random() < 0.6:
            world.add(person, MEMBER_OF_SPORTS_TEAM, orgs["teams"][("athletics", c)][0])
        if "politician" in professions[i] and rng.random() < 0.8:
            world.add(person, MEMBER_OF_POLITICAL_PARTY, rng.choice(orgs["parties"][c]))
        if rng.random() < FAMILY_AWARD_RATE[family]:
            world.add(person, AWARD_RECEIVED, rng.choice(orgs["awards"][family]))

    # Spouses: pairs from the same country, mostly within a profession family, regardless of gender.
    rng = _rng(config, "spouses")
    married = [i for i in range(config.n_people) if rng.random() < config.spouse_rate]

    def pairing_key(i: int) -> tuple[int, str, float]:
        family = PROFESSIONS[professions[i][0]].family if rng.random() < 0.5 else ""
        return home[i], family, rng.random()

    married.sort(key=pairing_key)
    for a, b in zip(married[0::2], married[1::2]):
        world.spouse_pairs.append(((people[a], SPOUSE, people[b]), (people[b], SPOUSE, people[a])))


def _split(world: _World) -> dict[str, list[Triple]]:
    """Random valid/test triples, keeping every entity and relation of valid/test in train.

    Both directions of a marriage go to the same split, so a held-out spouse fact cannot be read off its
    mirror image in train (the leak FB15k-237 was built to remove)."""
    config = world.config
    rng = _rng(config, "split")
    seen: set[Triple] = set()
    groups: list[tuple[Triple, ...]] = []
    for triple in world.triples:
        if triple not in seen:
            seen.add(triple)
            groups.append((triple,))
    for pair in world.spouse_pairs:
        groups.append(pair)
    counts: dict[str, int] = {}
    for group in groups:
        for h, r, t in group:
            for key in (h, t, "\0" + r):
                counts[key] = counts.get(key, 0) + 1
    total = sum(len(g) for g in groups)
    targets = {"valid": int(total * config.valid_fraction), "test": int(total * config.test_fraction)}
    held: dict[str, list[Triple]] = {"valid": [], "test": []}
    train: list[Triple] = []
    order = list(range(len(groups)))
    rng.shuffle(order)
    for index in order:
        group = groups[index]
        split = "valid" if len(held["valid"]) < targets["valid"] else "test"
        need: dict[str, int] = {}
        for h, r, t in group:
            for key in (h, t, "\0" + r):
                need[key] = need.get(key, 0) + 1
        if len(held[split]) < targets[split] and all(counts[k] > n for k, n in need.items()):
            held[split].extend(group)
            for key, n in need.items():
                counts[key] -= n
        else:
            train.extend(group)
    return {"train": sorted(train), "valid": sorted(held["valid"]), "test": sorted(held["test"])}


def generate_demo_world(config: DemoWorldConfig | None = None) -> dict[str, Any]:
    """Generate the demo world: ``{"splits", "labels", "spec", "config", "whitelist", "description"}``.

    ``splits`` maps train/valid/test to sorted lists of (head, relation, tail); every entity and relation
    of valid/test also occurs in train. Same config, same triples, on any platform.
    """
    config = config or DemoWorldConfig()
    world = _World(config)
    geo = _build_geography(world)
    orgs = _build_organisations(world, geo)
    _build_people(world, geo, orgs)
    splits = _split(world)
    return {"splits": splits, "labels": dict(sorted(world.labels.items())), "spec": DEMO_SPEC, "config": config,
            "whitelist": [list(pair) for pair in DEFAULT_WHITELIST], "description": SYNTHETIC_NOTICE}


@lru_cache(maxsize=8)
def _cached_graph(config: DemoWorldConfig) -> KnowledgeGraph:
    world = generate_demo_world(config)
    return KnowledgeGraph(world["splits"], labels=world["labels"], spec=DEMO_SPEC, name="demo", unseen="error")


def demo_graph(config: DemoWorldConfig | None = None) -> KnowledgeGraph:
    """The demo world as a ``KnowledgeGraph`` (built once per config in this process)."""
    return _cached_graph(config or DemoWorldConfig())


def load_demo_source(source: Any) -> KnowledgeGraph:
    """What ``DataSource(dataset="demo", options=...)`` loads: the cached demo graph for those options, or,
    when the source carries its own spec, the same triples read through that spec."""
    config = DemoWorldConfig.from_options(getattr(source, "options", None))
    spec = getattr(source, "spec", None)
    if spec is None or spec == DEMO_SPEC:
        return demo_graph(config)
    world = generate_demo_world(config)
    return KnowledgeGraph(world["splits"], labels=world["labels"], spec=spec, name="demo", unseen="error")


__all__ = ["SYNTHETIC_NOTICE", "generate_demo_world", "demo_graph", "load_demo_source"]
