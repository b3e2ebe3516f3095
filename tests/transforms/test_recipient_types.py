"""Recipient types inferred from org-ids, register flags, registered numbers and names (360Giving style)."""

import pandas as pd

from spendmap.award_layers import read_awards
from spendmap.paths import BUNDLED_GRANTS, reference_path
from spendmap.schemas import conform_awards
from spendmap.transforms.recipient_types import RECIPIENT_TYPES, infer_recipient_types, type_counts


def _types(rows: list[dict]) -> list[tuple[str, str]]:
    out = infer_recipient_types(conform_awards(pd.DataFrame(rows)))
    return list(zip(out["recipient_type"], out["recipient_type_rule"], strict=True))


def test_evidence_in_order():
    assert _types(
        [
            {"recipient_id": "GB-CHC-1079327", "recipient_name": "Anything Ltd"},  # org-id beats the name
            {"recipient_id": "GB-LAE-WKF", "recipient_name": "Wakefield"},
            {"recipient_id": "GB-COH-03861209", "recipient_name": "Change Grow Live"},
            {"recipient_id": "GB-EDU-123456", "recipient_name": "A School"},
            {"recipient_name": "West Yorkshire Combined Authority", "is_council_recipient": True},
            {"recipient_name": "Kent County Council", "is_council_recipient": True},
            {"recipient_name": "Many farmers", "is_aggregated": True},
            {"recipient_name": "Crisis Point", "recipient_charity_number": "1105369"},
            {"recipient_id": "SC027347", "recipient_name": "Port William Inshore Rescue Service"},
            {"recipient_name": "Bodmin Energy CIC", "recipient_company_number": "09041144"},
            {"recipient_name": "Cornerstone Renewables Ltd", "recipient_company_number": "9041144"},
            {"recipient_name": "Sheffield Council for Voluntary Service"},
            {"recipient_name": "Hertfordshire Police"},
            {"recipient_name": "Solihull Youth Offending Team (YOT)"},
            {"recipient_name": "London Borough of Hackney"},
            {"recipient_name": "GO-COACH HIRE LIMITED"},
            {"recipient_name": "Speke Garston Minibus Agency"},  # sounds like nothing: unknown
            {"recipient_name": "Merseytravel"},
            {"recipient_name": "West Midlands Integrated Transport Authority"},
            {"recipient_name": "Innovate UK (previously Technology Strategy Board)"},
            {"recipient_name": "HM Revenue & Customs"},
            {"recipient_name": "Driving Standards Agency"},
            {"recipient_name": "Arriva Buses Wales (Cross Border)"},
            {"recipient_name": "Age UK Sunderland"},
            {"recipient_name": "Droitwich Spa And Rural Council Voluntary Service"},
            {"recipient_name": "Community Transport Newcastle"},  # not necessarily a charity: unknown
            {"recipient_name": "First Step"},  # not First Bus
            {"recipient_name": "Energy Saving Trust"},  # "trust" is not evidence
            {"recipient_name": "Redacted", "is_redacted": True, "recipient_company_number": "1"},
        ]
    ) == [
        ("charity", "org-id:GB-CHC"),
        ("council", "org-id:GB-LAE"),
        ("company", "org-id:GB-COH"),
        ("other public body", "org-id:GB-EDU"),
        ("combined authority", "name:combined-authority"),
        ("council", "register:council-recipient"),
        ("individuals or aggregated awards", "register:aggregated"),
        ("charity", "number:charity"),
        ("charity", "number:charity"),
        ("community interest company or mutual", "number:company+name:cic"),
        ("company", "number:company"),
        ("charity", "name:voluntary-service"),
        ("other public body", "name:public-body"),
        ("other public body", "name:public-body"),
        ("council", "name:council"),
        ("company", "name:company"),
        ("unknown", "no evidence"),
        ("other public body", "name:public-body"),
        ("other public body", "name:public-body"),
        ("other public body", "name:public-body"),
        ("other public body", "name:public-body"),
        ("other public body", "name:public-body"),
        ("company", "name:bus-operator"),
        ("charity", "name:age-uk-partner"),
        ("charity", "name:voluntary-service"),
        ("unknown", "no evidence"),
        ("unknown", "no evidence"),
        ("unknown", "no evidence"),
        ("unknown", "redacted"),
    ]


def test_bundled_register_types(tmp_path):
    """The bundled 2016-17 register as a run classifies it (placed with the built-in postcode directory,
    so council recipients, fuzzy-matched names included, are flagged by the placement step): exact awards
    and recipients per type."""
    from spendmap import steps

    read = steps.ingest_grants([str(reference_path(*BUNDLED_GRANTS))], ["2016-17"], tmp_path)
    placed = steps.place_grants(read.awards, None, tmp_path)
    layers = [read.awards, placed.awards]
    typed = read_awards([*layers, steps.classify_awards(layers, tmp_path).awards])
    assert set(typed["recipient_type"]) <= set(RECIPIENT_TYPES)
    assert typed["recipient_type"].value_counts().to_dict() == {
        "unknown": 1141,
        "company": 860,
        "council": 474,
        "other public body": 460,
        "charity": 386,
        "combined authority": 18,
        "community interest company or mutual": 12,
    }
    rules = typed["recipient_type_rule"].value_counts()
    assert rules["no evidence"] == 1141
    # Transport authorities, central government and its agencies, Innovate UK, NHS/constabulary names;
    # the national bus groups' operators; local Age UKs.
    named = ("name:bus-operator", "name:age-uk-partner", "name:voluntary-service", "name:public-body")
    assert [int(rules[r]) for r in named] == [22, 10, 7, 460]
    # Distinct organisations (transforms.recipient_identity): five predecessor councils (Harrogate,
    # Sedgemoor, Poole, Kettering, Daventry) are councils of their own, not their successor; West
    # Midlands Travel "Ltd" and "Limited" are one company.
    assert type_counts(typed) == {
        "council": 158,
        "combined authority": 5,
        "other public body": 285,
        "charity": 268,
        "company": 560,
        "community interest company or mutual": 8,
        "unknown": 735,
    }
