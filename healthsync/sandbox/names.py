"""Word lists and spelling rules for the sandbox's invented companies, people and tickets.

Every list here was written for the sandbox. Company names are built from two name parts, an optional
business word and a legal suffix, e.g. "Bluepeak Analytics GmbH". Zendesk wants organization names to
be unique, and NAME-linked organizations can only be matched by a normalised name (case, punctuation
and legal suffix ignored). So the generator keeps names unique after that normalisation, and the
domain slug is that normalised base. A unique domain therefore means a unique name.

Domains end in `.example` (RFC 2606), so no generated address can belong to a real company.
"""

from __future__ import annotations

import bisect
import itertools
import random
from typing import NamedTuple

__all__ = [
    "CHURN_REASONS",
    "CSAT_COMMENTS_BAD",
    "CSAT_COMMENTS_GOOD",
    "FIRST_NAMES",
    "INDUSTRIES",
    "LAST_NAMES",
    "TICKET_SUBJECTS",
    "VENDOR_DOMAIN",
    "CompanyName",
    "company_name",
    "email_local",
    "name_variant",
]

VENDOR_DOMAIN = "vendor.example"
"""Where owners (CSMs) and support agents work: the company running healthsync."""


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_PREFIXES = _words(
    "Acorn Alder Alpine Amber Anchor Apex Arbor Arctic Argent Arrow Aspen Atlas Aurora Azure Basalt "
    "Bay Beacon Birch Black Blue Bold Bright Brook Canyon Cardinal Cascade Cedar Clear Cloud Cobalt "
    "Comet Copper Coral Crest Crimson Crystal Cypress Dawn Delta Desert Double Eagle East Echo Ember "
    "Emerald Falcon Fern Field Fir First Flint Forest Fox Frost Golden Granite Green Grey Harbor Hawk "
    "Hazel High Indigo Iron Ivory Jade Juniper Keystone Lake Lark Laurel Lime Linden Lunar Maple "
    "Marble Meadow Mercury Mesa Midnight Mill Mint North Oak Ocean Olive Onyx Orchid Pacific Pine "
    "Pioneer Polar Prairie Quarry Quartz Rain Raven Red Ridge River Rock Rose Ruby Sable Saffron Sage "
    "Silver Sky Slate Snow Solar South Spruce Star Steel Stone Storm Summit Sun Swift Teal Thunder "
    "Tidal Timber True Tundra Twin Upland Valley Velvet Vista West Wild Willow Wind Winter Wolf"
)

_CORES = _words(
    "arc bank base beam bell bend bloom bolt bond bridge brook byte cast cell chain core craft crest "
    "cross dale dock dome drift edge fall field flow forge form fort frame gate glen grove hall haven "
    "helm hill hold hub key lake land leaf light line link loop mark mesh mill mine mint moor nest net "
    "node path peak pier pine place point pond port quest rail reach reef ridge ring rise root run "
    "sail scale shore side signal smith spark spire spring stack star stead stone stream tide tower "
    "track trail vale view wave way well wing wood works yard"
)

_BUSINESS_WORDS = _words(
    "Analytics Apparel Architects Automation Bakery Bio Biotech Brands Builders Capital Care Cargo "
    "Chemicals Clinics Cloud Consulting Data Dental Design Devices Digital Dynamics Education Energy "
    "Engineering Farms Finance Fitness Foods Freight Games Health Holdings Hospitality Industries "
    "Insurance Interactive Labs Learning Legal Lighting Logistics Machines Manufacturing Marine Media "
    "Medical Metals Mobility Motors Networks Nutrition Optics Outdoors Packaging Partners Payments "
    "Pharma Power Print Properties Realty Recruiting Renewables Retail Robotics Security Semiconductors "
    "Software Solutions Sports Staffing Studios Supply Systems Technologies Telecom Textiles Therapeutics "
    "Tools Trading Transit Travel Ventures Vision Wellness Wireless Works"
)

# (suffix, relative weight): roughly the mix of a vendor selling into North America and Europe.
_LEGAL_SUFFIXES: tuple[tuple[str, int], ...] = (
    ("Inc.", 20),
    ("Inc", 8),
    ("LLC", 14),
    ("Corp.", 5),
    ("Corporation", 2),
    ("Ltd", 9),
    ("Ltd.", 3),
    ("Limited", 2),
    ("PLC", 1),
    ("GmbH", 8),
    ("AG", 2),
    ("SA", 4),
    ("SAS", 2),
    ("S.L.", 1),
    ("B.V.", 3),
    ("AB", 2),
    ("Oy", 1),
    ("Pty Ltd", 2),
    ("", 11),
)
_SUFFIX_NAMES = tuple(s for s, _ in _LEGAL_SUFFIXES)
_SUFFIX_CUMULATIVE = tuple(itertools.accumulate(w for _, w in _LEGAL_SUFFIXES))

# How support staff tend to rewrite a legal suffix when they type an organization's name.
_SUFFIX_REWRITES: dict[str, tuple[str, ...]] = {
    "Inc.": ("Inc", "Incorporated", "INC"),
    "Inc": ("Inc.", "Incorporated"),
    "LLC": ("L.L.C.", "Llc"),
    "Corp.": ("Corp", "Corporation"),
    "Corporation": ("Corp.", "Corp"),
    "Ltd": ("Ltd.", "Limited", "LTD"),
    "Ltd.": ("Ltd", "Limited"),
    "Limited": ("Ltd", "Ltd."),
    "PLC": ("plc", "P.L.C."),
    "GmbH": ("Gmbh", "GMBH"),
    "AG": ("A.G.",),
    "SA": ("S.A.",),
    "SAS": ("S.A.S.",),
    "S.L.": ("SL",),
    "B.V.": ("BV", "B.V"),
    "AB": ("Aktiebolag",),
    "Oy": ("OY",),
    "Pty Ltd": ("Pty. Ltd.", "PTY LTD"),
}

FIRST_NAMES = _words(
    "Aaliyah Aarav Abigail Adrian Aisha Alejandro Alex Amara Amelia Ana Andre Anika Anna Arjun Ava "
    "Beatriz Ben Bianca Bruno Camila Carlos Caroline Chen Chloe Daniel Dana Diego Dmitri Elena Elif "
    "Elijah Emeka Emil Emma Erik Esther Ethan Fatima Felix Fiona Gabriel Grace Hana Hannah Hugo Ibrahim "
    "Ines Isaac Isabel Ivan Jack Jamal Jana Javier Jin Joao Jonas Julia Kai Kenji Khalid Kofi Lars "
    "Layla Leo Lena Liam Lina Lucas Lucia Luis Maya Mateo Mei Mia Mohammed Nadia Naomi Nia Nikolai "
    "Noah Nora Olivia Omar Oscar Priya Rafael Ravi Rosa Ruth Sam Santiago Sara Sofia Tariq Theo Tomas "
    "Uma Valentina Victor Wei Yara Yusuf Zara Zoe"
)

LAST_NAMES = _words(
    "Abbott Adeyemi Alvarez Andersen Bakker Banerjee Becker Bianchi Brennan Brooks Castillo Chandra "
    "Chen Costa Cruz Dahl Das Diaz Dubois Eriksson Evans Farouk Fischer Fitzgerald Fontaine Garcia "
    "Gomez Gupta Haddad Hansen Harper Hoffmann Holm Ibarra Ito Jansen Jensen Kaur Keller Kim Kowalski "
    "Kruger Larsen Laurent Lee Lindqvist Lopez Mahmoud Martin Mendes Meyer Moreau Murphy Nakamura "
    "Nguyen Novak Nowak Obi Okafor Olsen Ortega Park Patel Perez Petrov Quinn Ramos Reyes Rossi Russo "
    "Sato Schmidt Schneider Silva Singh Sorensen Suzuki Tanaka Torres Vargas Varga Vogel Wagner Walsh "
    "Weber Wong Yamamoto Yilmaz Zhang Ziegler"
)

INDUSTRIES = (
    "Software",
    "Financial Services",
    "Healthcare",
    "Manufacturing",
    "Retail",
    "Education",
    "Logistics",
    "Media",
    "Telecommunications",
    "Energy",
    "Construction",
    "Hospitality",
    "Insurance",
    "Real Estate",
    "Biotechnology",
    "Professional Services",
    "Transportation",
    "Government",
    "Nonprofit",
    "Agriculture",
    "Automotive",
    "Consumer Goods",
    "Legal",
    "Marketing",
    "Pharmaceuticals",
)

# Subjects per Zendesk ticket type (question, incident, problem, task).
TICKET_SUBJECTS: dict[str, tuple[str, ...]] = {
    "question": (
        "How do I add more users?",
        "Question about our invoice",
        "Can we export reports to Excel?",
        "Where do I change the billing contact?",
        "Is there an API rate limit?",
        "How to set up single sign-on",
        "Difference between admin and editor roles",
        "Can we change our renewal date?",
        "Training sessions for new team members",
        "Does the mobile app support offline mode?",
    ),
    "incident": (
        "Cannot log in since this morning",
        "Dashboard shows no data",
        "Export job stuck at 0%",
        "Error 500 when saving a record",
        "Emails from the app are not arriving",
        "Integration sync failing",
        "Page very slow to load",
        "Users locked out after password reset",
        "Data missing after import",
        "Webhook deliveries failing",
    ),
    "problem": (
        "Recurring timeouts on report generation",
        "Duplicate records created by the sync",
        "Permissions not applied to new users",
        "Time zones wrong in scheduled reports",
        "Search results incomplete",
        "SSO sessions expire too early",
    ),
    "task": (
        "Please add 10 seats to our plan",
        "Update our company address",
        "Remove a former employee's access",
        "Set up a sandbox environment",
        "Schedule a quarterly business review",
        "Enable the beta feature for our account",
    ),
}

CSAT_COMMENTS_GOOD = (
    "Thanks, quick and clear answer!",
    "Solved in minutes, great support.",
    "Very helpful, thank you.",
    "Appreciate the follow-up.",
    "",
)
CSAT_COMMENTS_BAD = (
    "Took far too long to get an answer.",
    "The problem is still not fixed.",
    "I had to explain the issue three times.",
    "Not helpful.",
    "",
)

CHURN_REASONS = (
    "price",
    "missing feature",
    "integration",
    "support",
    "champion left",
    "budget",
    "competitor",
    "business closed",
    "other",
)


class CompanyName(NamedTuple):
    """A generated company name and the parts other records derive from it."""

    name: str
    """As the CRM has it, e.g. "Bluepeak Analytics GmbH"."""
    base: str
    """Without the legal suffix, e.g. "Bluepeak Analytics"."""
    suffix: str
    slug: str
    """Lower-case letters and digits of `base`: unique, and the domain's first label."""

    @property
    def domain(self) -> str:
        """The company's web and email domain."""
        return f"{self.slug}.example"


def _one(rng: random.Random, words: tuple[str, ...]) -> str:
    # `rng.choice` without its per-call overhead: this runs a few times per generated company.
    return words[int(rng.random() * len(words))]


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def company_name(rng: random.Random, taken: set[str]) -> CompanyName:
    """Invent a company name whose slug is not in `taken`, and add the slug to it.

    Args:
        rng: the generator's random stream.
        taken: slugs already used (membership only, so its order never matters).

    Returns:
        The new name and its parts.
    """
    for attempt in range(1000):
        first = _one(rng, _PREFIXES)
        second = _one(rng, _CORES)
        shape = rng.random()
        if shape < 0.55:
            base = f"{first}{second} {_one(rng, _BUSINESS_WORDS)}"
        elif shape < 0.8:
            base = f"{first}{second}"
        else:
            base = f"{first} {second.capitalize()} {_one(rng, _BUSINESS_WORDS)}"
        if attempt >= 20:
            # A very large base runs out of short combinations: add a third part instead of looping.
            base = f"{base} {_one(rng, _PREFIXES)}"
        slug = _slug(base)
        if slug not in taken:
            taken.add(slug)
            suffix = _SUFFIX_NAMES[bisect.bisect(_SUFFIX_CUMULATIVE, rng.random() * _SUFFIX_CUMULATIVE[-1])]
            name = f"{base} {suffix}" if suffix else base
            return CompanyName(name, base, suffix, slug)
    raise RuntimeError("could not find an unused company name")  # pragma: no cover


def name_variant(rng: random.Random, company: CompanyName) -> str:
    """How support might have typed the name: same company, different spelling.

    The result differs from `company.name` but normalises to the same base (case, punctuation and
    legal suffix ignored), which is what name matching has to cope with: "ACME, Inc." vs "Acme Inc".
    """
    base, suffix = company.base, company.suffix
    options = [base.upper(), base.lower(), f"{base.upper()} {suffix}".strip()]
    if suffix:
        options += [base, f"{base}, {suffix}", f"{base.lower()} {suffix.lower()}"]
        options += [f"{base} {other}" for other in _SUFFIX_REWRITES.get(suffix, ())]
    else:
        options += [f"{base} Inc", f"{base} Ltd"]
    choices = [option for option in options if option != company.name]
    return rng.choice(choices)


def email_local(first: str, last: str) -> str:
    """The local part of a person's work email, e.g. "ana.silva"."""
    return f"{first}.{last}".lower()
