"""The demo world's profession table: each profession's size and share of women, with its source.

This is what is *not* invented in the demo world. ``PROFESSION_SKEWS`` is the single table of figures,
each row with its source (FB15k-237 counts, US labour statistics) or marked illustrative where no figure is
cited. The generator allocates people to professions by quota from it, so every world, of any seed and
size, reproduces the table up to rounding.

A few skews are legitimate (a nun, a soprano): those professions are in ``DEFAULT_WHITELIST``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .vocabulary import OCCUPATION, occupation_id

# ---------------------------------------------------------------------------------------------- sources
_FB = ("FB15k-237 profession '{name}' (FB15k_mid2name), people with a recorded gender, all splits "
       "(counted with kgcore): {women} women of {people}")
_DOL = ("US Dept. of Labor Women's Bureau, 'Occupations by gender shares of employment' "
        "(2011 American Community Survey): {occupation} {percent}% women")
_BLS23 = ("US BLS, Current Population Survey 2023 annual averages, table 39 (full-time wage and salary "
          "workers): {occupation} {women} of {total} thousand women")
_BLS17 = ("US BLS, 'Women in the labor force: a databook' (2017), as reported by Business Insider "
          "(2019-08-14): {occupation} {percent}% women")
_NEA = ("National Endowment for the Arts, artists in the workforce 2015-2019 (ACS), as reported by "
        "WIA Report (2022-08-17): {occupation} {percent}% women")
_ILLUSTRATIVE = "illustrative: no cited figure; a strong skew chosen to be plausible"
_DEFINITIONAL = "definitional: the occupation names a gendered role or voice type (whitelisted)"

# The overall ratio the table produces (about 4 men per woman) matches these published counts:
GENDER_RATIO_SOURCES = (
    "FB15k-237 (all splits): 3,552 men and 978 women with a recorded gender, 3.6 men per woman.",
    "Wikidata Human Gender Indicators (Klein et al., OpenSym 2016; GroupLens blog, 2016-10-09): 16.5% "
    "of English Wikipedia's biographies (232,357 of 1,406,482) are about women, about 5 men per woman.",
)


@dataclass(frozen=True)
class ProfessionSkew:
    """One profession of the demo world: how many people hold it and what share of them are women.

    ``weight`` is relative size (people per profession, Wikidata-like: many footballers, politicians and
    actors); ``female_share`` is the figure the world reproduces; ``source`` says where it comes from.
    """

    key: str
    label: str
    family: str
    weight: float
    female_share: float
    source: str
    legitimate: bool = False


def _fb(key: str, label: str, family: str, weight: float, women: int, people: int, name: str) -> ProfessionSkew:
    return ProfessionSkew(key, label, family, weight, round(women / people, 3),
                          _FB.format(name=name, women=women, people=f"{people:,}"))


def _pct(template: str, key: str, label: str, family: str, weight: float, percent: float,
         occupation: str) -> ProfessionSkew:
    return ProfessionSkew(key, label, family, weight, round(percent / 100, 3),
                          template.format(occupation=occupation, percent=percent))


def _bls23(key: str, label: str, family: str, weight: float, women: int, total: int,
           occupation: str) -> ProfessionSkew:
    return ProfessionSkew(key, label, family, weight, round(women / total, 3),
                          _BLS23.format(occupation=occupation, women=f"{women:,}", total=f"{total:,}"))


def _fixed(key: str, label: str, family: str, weight: float, share: float, source: str,
           legitimate: bool = False) -> ProfessionSkew:
    return ProfessionSkew(key, label, family, weight, share, source, legitimate)


# THE table: every profession of the demo world, its size, its share of women and where that comes from.
PROFESSION_SKEWS: tuple[ProfessionSkew, ...] = (
    # film, television and fashion
    _fb("actor", "Actor", "screen", 280, 806, 2759, "Actor-GB"),
    _fb("film_director", "Film director", "screen", 110, 55, 741, "Film_Director"),
    _fb("television_director", "Television director", "screen", 60, 29, 295, "Television_Director"),
    _fb("comedian", "Comedian", "screen", 60, 62, 347, "Comedian"),
    _fb("film_producer", "Film producer", "screen", 80, 120, 1086, "Film_Producer-GB"),
    _fb("screenwriter", "Screenwriter", "screen", 80, 111, 1072, "Screenwriter"),
    _fb("cinematographer", "Cinematographer", "screen", 40, 2, 97, "Cinematographer-GB"),
    _fb("costume_designer", "Costume designer", "screen", 40, 15, 34, "Costume_Designer-GB"),
    _fb("voice_actor", "Voice actor", "screen", 50, 92, 406, "Voice_Actor"),
    _fb("television_presenter", "Television presenter", "screen", 50, 30, 102, "Presenter-GB"),
    _fb("model", "Model", "screen", 60, 126, 168, "Model"),
    # music and dance
    _fb("musician", "Musician", "music", 100, 94, 693, "Musician-GB"),
    _fb("composer", "Composer", "music", 80, 20, 335, "Composer"),
    _fb("record_producer", "Record producer", "music", 50, 60, 369, "Record_producer-GB"),
    _fb("guitarist", "Guitarist", "music", 50, 22, 191, "Guitarist-GB"),
    _fb("drummer", "Drummer", "music", 40, 1, 38, "Drummer-GB"),
    _fb("singer_songwriter", "Singer-songwriter", "music", 70, 108, 345, "Singer-songwriter-GB"),
    _fb("conductor", "Conductor", "music", 40, 0, 82, "Conductor"),
    _fb("pianist", "Pianist", "music", 40, 6, 64, "Pianist-GB"),
    _pct(_NEA, "dancer", "Dancer", "music", 40, 77, "dancers and choreographers"),
    _fixed("soprano", "Soprano", "music", 35, 1.0, _DEFINITIONAL, legitimate=True),
    _fixed("mezzo_soprano", "Mezzo-soprano", "music", 30, 1.0, _DEFINITIONAL, legitimate=True),
    _fixed("tenor", "Tenor", "music", 35, 0.0, _DEFINITIONAL, legitimate=True),
    _fixed("baritone", "Baritone", "music", 35, 0.0, _DEFINITIONAL, legitimate=True),
    # writing and media
    _fb("writer", "Writer", "letters", 180, 64, 530, "Writer-GB"),
    _fb("playwright", "Playwright", "letters", 40, 10, 124, "Playwright-GB"),
    _fb("cartoonist", "Cartoonist", "letters", 40, 0, 45, "Cartoonist"),
    _fb("poet", "Poet", "letters", 60, 13, 99, "Poet"),
    _fb("journalist", "Journalist", "letters", 90, 18, 72, "Journalist-GB"),
    _pct(_DOL, "translator", "Translator", "letters", 35, 68, "interpreters and translators"),
    _fb("artist", "Artist", "letters", 60, 49, 187, "Artist-GB"),
    # health
    _pct(_DOL, "nurse", "Nurse", "health", 80, 91, "registered nurses"),
    _pct(_DOL, "physician", "Physician", "health", 90, 36, "physicians and surgeons"),
    _pct(_DOL, "dental_hygienist", "Dental hygienist", "health", 35, 98, "dental hygienists"),
    _pct(_DOL, "physical_therapist", "Physical therapist", "health", 35, 72, "physical therapists"),
    # teaching, science and engineering
    _pct(_DOL, "teacher", "Teacher", "science", 70, 80, "elementary school teachers"),
    _pct(_DOL, "professor", "Professor", "science", 80, 48, "postsecondary teachers"),
    _fb("scientist", "Scientist", "science", 100, 1, 27, "Scientist-GB"),
    _pct(_DOL, "software_developer", "Software developer", "science", 70, 22, "software developers, systems software"),
    _pct(_BLS17, "aerospace_engineer", "Aerospace engineer", "science", 50, 7.8, "aerospace engineers"),
    _pct(_NEA, "architect", "Architect", "science", 50, 27.6, "architects"),
    # business and finance
    _fixed("banker", "Banker", "business", 70, 0.06, _ILLUSTRATIVE),
    _bls23("chief_executive", "Chief executive", "business", 60, 407, 1261, "chief executives"),
    _bls23("financial_manager", "Financial manager", "business", 40, 748, 1355, "financial managers"),
    _pct(_DOL, "accountant", "Accountant", "business", 40, 60, "accountants and auditors"),
    _bls23("human_resources_manager", "Human resources manager", "business", 35, 245, 324,
           "human resources managers"),
    _fb("businessperson", "Businessperson", "business", 80, 17, 92, "Businessperson-GB"),
    # politics and law
    _fb("politician", "Politician", "politics", 550, 9, 112, "Politician-GB"),
    _fb("lawyer", "Lawyer", "politics", 110, 3, 50, "Lawyer"),
    # sport
    _fb("football_player", "Football player", "sport", 700, 2, 60, "Football_player"),
    _fb("athlete", "Athlete", "sport", 150, 3, 30, "Athlete"),
    # religion
    _fixed("nun", "Nun", "religion", 40, 1.0, _DEFINITIONAL, legitimate=True),
    _fixed("monk", "Monk", "religion", 40, 0.0, _DEFINITIONAL, legitimate=True),
    _pct(_BLS17, "clergy", "Clergy member", "religion", 40, 17.6, "clergy"),
    # trades, home and service
    _pct(_DOL, "carpenter", "Carpenter", "trades", 40, 1, "carpenters"),
    _pct(_BLS17, "firefighter", "Firefighter", "trades", 40, 3.5, "firefighters"),
    _pct(_BLS17, "construction_manager", "Construction manager", "trades", 40, 7.4, "construction managers"),
    _pct(_DOL, "truck_driver", "Truck driver", "trades", 40, 5, "heavy and tractor-trailer truck drivers"),
    _pct(_BLS17, "farmer", "Farmer", "trades", 50, 24.8, "farmers"),
    _fixed("homemaker", "Homemaker", "trades", 40, 0.95, _ILLUSTRATIVE),
    _fb("soldier", "Soldier", "trades", 120, 0, 24, "Soldier-GB"),
)

PROFESSIONS: dict[str, ProfessionSkew] = {p.key: p for p in PROFESSION_SKEWS}

# Professions whose gender skew is part of what they are; attribute embeddings may keep gender there.
DEFAULT_WHITELIST: list[list[str]] = [[OCCUPATION, occupation_id(p.key)] for p in PROFESSION_SKEWS if p.legitimate]


def skew_table() -> list[dict[str, Any]]:
    """``PROFESSION_SKEWS`` as rows (for display: label, family, share of women, source)."""
    return [{"profession": occupation_id(p.key), "label": p.label, "family": p.family, "weight": p.weight,
             "female_share": p.female_share, "legitimate": p.legitimate, "source": p.source}
            for p in PROFESSION_SKEWS]


def expected_female_share() -> float:
    """Share of women among profession holders implied by the table's weights and shares."""
    total = sum(p.weight for p in PROFESSION_SKEWS)
    return sum(p.weight * p.female_share for p in PROFESSION_SKEWS) / total


__all__ = ["ProfessionSkew", "PROFESSION_SKEWS", "PROFESSIONS", "DEFAULT_WHITELIST", "GENDER_RATIO_SOURCES",
           "skew_table", "expected_female_share"]
