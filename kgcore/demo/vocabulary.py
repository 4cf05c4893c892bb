"""The demo world's vocabulary: its relations, gender values and spec, and the invented names and
per-family coverage rates the generator draws from.

Nothing here is sourced: the places, faiths, groups, organisations and names are invented, and the rates
are illustrative coverage levels like Wikidata's. The sourced figures are in ``skews``.
"""
from __future__ import annotations

from ..data.spec import Attribute, DatasetSpec

# ---------------------------------------------------------------------------------------------- relations
GENDER, OCCUPATION, CITIZENSHIP, RELIGION, ETHNIC_GROUP = (
    "gender", "occupation", "citizenship", "religion", "ethnic_group")
BORN_IN, COUNTRY, PART_OF, LOCATED_IN = "born_in", "country", "part_of", "located_in"
EDUCATED_AT, EMPLOYER, FIELD_OF_WORK, AWARD_RECEIVED, SPOUSE = (
    "educated_at", "employer", "field_of_work", "award_received", "spouse")
LANGUAGES_SPOKEN, OFFICIAL_LANGUAGE, INSTRUMENT = "languages_spoken", "official_language", "instrument"
MEMBER_OF_SPORTS_TEAM, MEMBER_OF_POLITICAL_PARTY = "member_of_sports_team", "member_of_political_party"

MALE, FEMALE = "gender:male", "gender:female"

DEMO_SPEC = DatasetSpec(
    name="demo",
    attributes=(
        Attribute("gender", GENDER),
        Attribute("nationality", CITIZENSHIP),
        Attribute("religion", RELIGION),
        Attribute("ethnicity", ETHNIC_GROUP),
    ),
    target=OCCUPATION,
    target_name="profession",
    value_labels={MALE: "male", FEMALE: "female"},
)


def occupation_id(key: str) -> str:
    """The entity of a profession (``occupation:nurse``), the tail of a person's ``occupation`` triples."""
    return f"occupation:{key}"


# ---------------------------------------------------------------------------------------------- geography
REGIONS = ("Northern Reach", "Western Shore", "Eastern Plateau", "Southern Isles")
# (name, region index, relative population); each country's cities follow in CITY_NAMES.
COUNTRIES = (
    ("Ardenia", 0, 3.0), ("Belmora", 0, 2.0), ("Calvessa", 0, 1.0),
    ("Dornholt", 1, 3.0), ("Estraya", 1, 1.5), ("Fenmark", 1, 1.0),
    ("Galvania", 2, 2.5), ("Heskaria", 2, 1.5), ("Iskelon", 2, 1.0),
    ("Jorvania", 3, 2.0), ("Kalmeria", 3, 1.5), ("Lunessa", 3, 1.0),
)
CITY_NAMES = (
    ("Porvalle", "Kestrin", "Marloe", "Vessany", "Tollbridge"),
    ("Ambrel", "Quenhaven", "Saltmere", "Dovrik", "Orlenne"),
    ("Casket Bay", "Virelle", "Holmgard", "Pellinor", "Treswick"),
    ("Oskaven", "Brennick", "Maravel", "Lindholt", "Sorrento Vale"),
    ("Estavell", "Corrimar", "Fallowmere", "Ulvestad", "Rokeby"),
    ("Fenwick Cross", "Halvorsund", "Mirrowdale", "Ostrava Nova", "Keldermark"),
    ("Galvenport", "Tirzana", "Ubrecht", "Velmora", "Zennor"),
    ("Heskar", "Amberlin", "Ravensholm", "Dunmere", "Calloway"),
    ("Iskel", "Noradin", "Tavelle", "Marwick", "Sundvik"),
    ("Jorven", "Palmira Bay", "Cressida", "Oakhollow", "Veranto"),
    ("Kalmar Point", "Serenne", "Thornbury", "Azulcourt", "Lormont"),
    ("Lunetta", "Mirabel", "Coralstead", "Vantorre", "Pellucid Harbour"),
)
# Invented faiths; each region has a dominant one, and the fifth is a minority everywhere.
RELIGIONS = ("Aurelian Church", "Way of the Lantern", "Covenant of Ishra", "Sunward Path", "Old Grove faith")
# Invented cross-border minority groups, one per region (each country's majority group is named after it).
MINORITY_GROUPS = ("Hollen people", "Marrow people", "Tessian people", "Quellan people")
REGIONAL_LANGUAGES = ("Northern Common", "Shore Tongue", "Plateau Speech", "Island Creole")

# ---------------------------------------------------------------------------------------------- families
# Per profession family: who is educated where, who is employed where, and which awards exist.
# Rates are illustrative coverage levels like Wikidata's (many people lack most facts).
FAMILY_SCHOOL = {"screen": "arts", "music": "conservatory", "letters": "university", "health": "medicine",
                 "science": "technology", "business": "business", "politics": "university",
                 "sport": "university", "religion": "seminary", "trades": "technology"}
FAMILY_EDUCATION_RATE = {"screen": 0.45, "music": 0.7, "letters": 0.7, "health": 0.9, "science": 0.9,
                         "business": 0.8, "politics": 0.8, "sport": 0.15, "religion": 0.7, "trades": 0.2}
FAMILY_EMPLOYER_RATE = {"screen": 0.35, "music": 0.45, "letters": 0.5, "health": 0.8, "science": 0.7,
                        "business": 0.8, "politics": 0.5, "sport": 0.0, "religion": 0.8, "trades": 0.5}
FAMILY_AWARD_RATE = {"screen": 0.3, "music": 0.3, "letters": 0.3, "health": 0.1, "science": 0.2,
                     "business": 0.15, "politics": 0.2, "sport": 0.25, "religion": 0.1, "trades": 0.1}
FAMILY_AWARDS = {
    "screen": ("Silver Reel Award", "Aurora Prize for Screen Arts"),
    "music": ("Golden Clef", "Harmonia Prize"),
    "letters": ("Quill Medal", "Lantern Prize for Literature"),
    "health": ("Medal of the Healing Arts",),
    "science": ("Meridian Prize", "Order of Learning"),
    "business": ("Guild Medal of Commerce",),
    "politics": ("Order of Civic Merit",),
    "sport": ("Golden Cleat", "Champion of the Year Award"),
    "religion": ("Lamp of Service",),
    "trades": ("Medal for Civic Service",),
}
AWARD_FIELD = {"screen": "film", "music": "music", "letters": "literature", "health": "medicine",
               "science": "science", "business": "business", "politics": "politics", "sport": "sport",
               "religion": "theology", "trades": "public service"}
SCHOOL_NAMES = {"university": "University of {city}", "arts": "{city} Academy of Arts",
                "conservatory": "{city} Conservatory", "medicine": "{city} School of Medicine",
                "technology": "{city} Institute of Technology", "business": "{city} School of Business",
                "seminary": "{city} Seminary"}
# Employer sector per profession (None: no employer fact), and the name pattern of each sector.
PROFESSION_SECTOR = {
    "actor": "studio", "film_director": "studio", "film_producer": "studio", "screenwriter": "studio",
    "cinematographer": "studio", "costume_designer": "studio", "voice_actor": "broadcaster",
    "television_presenter": "broadcaster", "television_director": "broadcaster", "comedian": "broadcaster",
    "model": "fashion_house", "record_producer": "record_label", "guitarist": "record_label",
    "drummer": "record_label", "playwright": "publisher", "cartoonist": "newspaper",
    "construction_manager": "construction", "musician": "record_label",
    "composer": "orchestra", "singer_songwriter": "record_label", "conductor": "orchestra",
    "pianist": "orchestra", "dancer": "opera", "soprano": "opera", "mezzo_soprano": "opera",
    "tenor": "opera", "baritone": "opera", "writer": "publisher", "poet": "publisher",
    "journalist": "newspaper", "translator": "publisher", "artist": "gallery", "nurse": "hospital",
    "physician": "hospital", "dental_hygienist": "clinic", "physical_therapist": "clinic",
    "teacher": "school", "professor": "university", "scientist": "university",
    "software_developer": "tech_company", "aerospace_engineer": "aerospace", "architect": "architects",
    "banker": "bank", "chief_executive": "holding", "financial_manager": "bank", "accountant": "holding",
    "human_resources_manager": "holding", "businessperson": "holding", "politician": "parliament",
    "lawyer": "law_firm", "football_player": None, "athlete": None, "nun": "abbey", "monk": "abbey",
    "clergy": "diocese", "carpenter": "construction", "firefighter": "fire_service",
    "truck_driver": "logistics", "farmer": "cooperative", "homemaker": None, "soldier": "army",
}
SECTOR_NAMES = {
    "studio": "{city} Film Studios", "broadcaster": "{country} Broadcasting", "fashion_house": "Maison {city}",
    "record_label": "{city} Records", "orchestra": "{city} Philharmonic", "opera": "{city} Opera House",
    "publisher": "{city} Press", "newspaper": "The {city} Courier", "gallery": "{city} Gallery of Art",
    "hospital": "{city} General Hospital", "clinic": "{city} Health Clinic", "school": "{city} Public Schools",
    "university": "University of {city}", "tech_company": "{city} Software Works",
    "aerospace": "{country} Aerospace", "architects": "{city} Design Partners", "bank": "Bank of {country}",
    "holding": "{country} Holdings", "parliament": "Parliament of {country}", "law_firm": "{city} Legal Chambers",
    "abbey": "Abbey of {city}", "diocese": "Diocese of {city}", "construction": "{city} Builders",
    "fire_service": "{country} Fire Service", "logistics": "{country} Freight",
    "cooperative": "{city} Farmers' Cooperative", "army": "{country} Army",
}
# field_of_work options per profession (the first is the most common).
PROFESSION_FIELDS = {
    "actor": ("film", "theatre", "television"), "film_director": ("film",), "film_producer": ("film", "television"),
    "screenwriter": ("film", "television"), "cinematographer": ("film",), "costume_designer": ("fashion", "film"),
    "voice_actor": ("animation", "television"), "television_presenter": ("television",), "model": ("fashion",),
    "television_director": ("television",), "comedian": ("comedy", "television"),
    "record_producer": ("popular music",), "guitarist": ("rock music", "popular music"),
    "drummer": ("rock music", "jazz"), "playwright": ("theatre", "literature"), "cartoonist": ("comics",),
    "construction_manager": ("construction",),
    "musician": ("popular music", "jazz"), "composer": ("classical music", "film"),
    "singer_songwriter": ("popular music",), "conductor": ("classical music",), "pianist": ("classical music", "jazz"),
    "dancer": ("dance", "theatre"), "soprano": ("opera",), "mezzo_soprano": ("opera",), "tenor": ("opera",),
    "baritone": ("opera",), "writer": ("literature",), "poet": ("poetry", "literature"),
    "journalist": ("journalism", "politics"), "translator": ("linguistics", "literature"),
    "artist": ("painting", "sculpture"), "nurse": ("nursing", "medicine"), "physician": ("medicine",),
    "dental_hygienist": ("dentistry",), "physical_therapist": ("physiotherapy", "medicine"),
    "teacher": ("education",), "professor": ("physics", "history", "economics", "biology", "linguistics"),
    "scientist": ("physics", "chemistry", "biology", "mathematics"), "software_developer": ("computer science",),
    "aerospace_engineer": ("aerospace engineering",), "architect": ("architecture",), "banker": ("finance",),
    "chief_executive": ("management", "business"), "financial_manager": ("finance", "accounting"),
    "accountant": ("accounting",), "human_resources_manager": ("management",), "businessperson": ("business",),
    "politician": ("politics",), "lawyer": ("law", "politics"), "football_player": ("association football",),
    "athlete": ("athletics",), "nun": ("theology",), "monk": ("theology",), "clergy": ("theology",),
    "carpenter": ("carpentry",), "firefighter": ("firefighting",), "truck_driver": ("logistics",),
    "farmer": ("agriculture",), "homemaker": ("household management",), "soldier": ("military",),
}
PROFESSION_INSTRUMENTS = {
    "musician": ("guitar", "drums", "bass guitar", "saxophone", "violin", "piano"),
    "singer_songwriter": ("guitar", "piano"), "composer": ("piano", "violin", "cello"),
    "conductor": ("piano", "violin"), "pianist": ("piano",), "guitarist": ("guitar", "bass guitar"),
    "drummer": ("drums",),
}

# Readable given names by recorded gender (labels only: the model never sees names) and family names.
GIVEN_NAMES = {
    FEMALE: ("Maria", "Aisha", "Mei", "Priya", "Olga", "Fatima", "Sofia", "Amara", "Yuki", "Ana", "Leila",
             "Ingrid", "Chioma", "Lucia", "Hana", "Elena", "Zainab", "Camila", "Noura", "Astrid", "Grace",
             "Nadia", "Rosa", "Ewa", "Keiko", "Ama", "Isabel", "Lin", "Sara", "Freya"),
    MALE: ("James", "Ahmed", "Wei", "Arjun", "Ivan", "Omar", "Luca", "Kwame", "Kenji", "Diego", "Tomas",
           "Mateo", "Samir", "Erik", "Chidi", "Pedro", "Hiro", "Yusuf", "Lars", "Andre", "David", "Karim",
           "Paolo", "Jan", "Taro", "Kofi", "Miguel", "Jun", "Ali", "Nils"),
}
FAMILY_NAMES = ("Okafor", "Silva", "Chen", "Sharma", "Haddad", "Rossi", "Mensah", "Tanaka", "Garcia",
                "Novak", "Berg", "Nakamura", "Osei", "Costa", "Kim", "Nguyen", "Okonkwo", "Moreau", "Jensen",
                "Alvarez", "Farah", "Sato", "Weber", "Dubois", "Mwangi", "Lindqvist", "Reyes", "Park",
                "Adeyemi", "Bianchi", "Horvat", "Santos", "Ito", "Kaya", "Das", "Ortiz", "Fischer", "Boateng",
                "Hansen", "Lopez", "Rahman", "Yilmaz", "Kowal", "Ibrahim", "Moreno", "Varga", "Andersen",
                "Suzuki", "Mendes", "Petit")


__all__ = [
    "GENDER", "OCCUPATION", "CITIZENSHIP", "RELIGION", "ETHNIC_GROUP", "BORN_IN", "COUNTRY", "PART_OF",
    "LOCATED_IN", "EDUCATED_AT", "EMPLOYER", "FIELD_OF_WORK", "AWARD_RECEIVED", "SPOUSE", "LANGUAGES_SPOKEN",
    "OFFICIAL_LANGUAGE", "INSTRUMENT", "MEMBER_OF_SPORTS_TEAM", "MEMBER_OF_POLITICAL_PARTY", "MALE", "FEMALE",
    "DEMO_SPEC", "occupation_id",
    "REGIONS", "COUNTRIES", "CITY_NAMES", "RELIGIONS", "MINORITY_GROUPS", "REGIONAL_LANGUAGES",
    "FAMILY_SCHOOL", "FAMILY_EDUCATION_RATE", "FAMILY_EMPLOYER_RATE", "FAMILY_AWARD_RATE", "FAMILY_AWARDS",
    "AWARD_FIELD", "SCHOOL_NAMES", "PROFESSION_SECTOR", "SECTOR_NAMES", "PROFESSION_FIELDS",
    "PROFESSION_INSTRUMENTS", "GIVEN_NAMES", "FAMILY_NAMES",
]
