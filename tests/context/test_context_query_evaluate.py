"""Evaluation of q expressions (CIM 009 V1.8.1 clause 4.9) on Entities in the internal form."""

import pytest

from mims.context.query import AttrPath, Comparison, Exists, Number, Op, Pattern, ScopeTerm, Text
from mims.context.query import matches, parse_q

EX = "https://example.org/"
CORE = "https://uri.etsi.org/ngsi-ld/"


def expand(term: str) -> str:
    """A stand-in for @context expansion: core terms to the core namespace, others to EX."""
    return CORE + term if term == "location" else EX + term


BUILDING = {
    "id": "urn:ngsi-ld:Building:1",
    "type": [EX + "Building"],
    "createdAt": "2026-11-21T10:00:00.000000Z",
    "modifiedAt": "2026-11-21T11:00:00.000000Z",
    "attributes": {
        EX + "name": [
            {"type": "Property", "value": "Depot Noord", "observedAt": "2026-11-21T09:00:00Z"}
        ],
        EX + "floors": [{"type": "Property", "value": 5, "unitCode": "C62"}],
        EX + "height": [{"type": "Property", "value": 21.5}],
        EX + "open": [{"type": "Property", "value": True}],
        EX + "tags": [{"type": "Property", "value": ["blue", "red", "green"]}],
        EX + "opened": [{"type": "Property", "value": {"@type": "Date", "@value": "1999-05-01"}}],
        EX + "inspected": [
            {"type": "Property", "value": {"@type": "DateTime", "@value": "2025-03-01T08:00:00Z"}}
        ],
        EX + "closes": [{"type": "Property", "value": {"@type": "Time", "@value": "18:00:00Z"}}],
        EX + "address": [
            {
                "type": "Property",
                "value": {"city": "Rotterdam", "street": "Coolsingel", "geo": {"zip": "3011"}},
            }
        ],
        EX + "temperature": [
            {
                "type": "Property",
                "value": 18,
                "datasetId": "urn:ngsi-ld:Dataset:indoor",
                "observedAt": "2026-11-21T09:00:00Z",
                "attributes": {EX + "accuracy": [{"type": "Property", "value": 0.9}]},
            },
            {"type": "Property", "value": 4, "datasetId": "urn:ngsi-ld:Dataset:outdoor"},
        ],
        CORE + "location": [
            {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [4.47, 51.92]}}
        ],
        EX + "owner": [
            {"type": "Relationship", "object": "urn:ngsi-ld:Person:1", "objectType": EX + "Person"}
        ],
        EX + "neighbours": [
            {"type": "Relationship", "object": ["urn:ngsi-ld:Building:2", "urn:ngsi-ld:Building:3"]}
        ],
        EX + "title": [
            {
                "type": "LanguageProperty",
                "languageMap": {"nl": "Opslag", "en": "Depot", "fr": ["dépôt", "entrepôt"]},
            }
        ],
        EX + "category": [{"type": "VocabProperty", "vocab": EX + "commercial"}],
        EX + "raw": [{"type": "JsonProperty", "json": {"id": "85a6", "value": "Overstay 60 minutes"}}],
        EX + "levels": [{"type": "ListProperty", "valueList": [1, 2, 3]}],
        EX + "parts": [
            {
                "type": "ListRelationship",
                "objectList": [{"object": "urn:ngsi-ld:Part:1"}, {"object": "urn:ngsi-ld:Part:2"}],
            }
        ],
        EX + "code": [{"type": "Property", "value": "20"}],
    },
}

TRUTH = [
    # existence
    ("name", True),
    ("missing", False),
    ("temperature.accuracy", True),
    ("temperature.missing", False),
    ("name.observedAt", True),
    ("floors.observedAt", False),
    ("address[city]", True),
    ("address[country]", False),
    ("address[geo.zip]", True),
    ("title[nl]", True),
    ("title[de]", False),
    ("createdAt", True),
    ("deletedAt", False),
    # equality and type rules on Property values
    ("floors==5", True),
    ("floors==5.0", True),
    ("floors==6", False),
    ('floors=="5"', False),
    ("floors!=6", True),
    ('floors!="5"', True),
    ("code==20", False),
    ('code=="20"', True),
    ("height==21.5", True),
    ("height>21", True),
    ("height>=21.5", True),
    ("height<21.5", False),
    ("height<=21.5", True),
    ("open==true", True),
    ("open==false", False),
    ("open!=false", True),
    ("open==1", False),
    ("floors==true", False),
    ('name=="Depot Noord"', True),
    ('name!="Depot Noord"', False),
    ('name>"Depot"', True),
    ('name<"Depot"', False),
    ('name=="Depot"', False),
    ("missing!=1", False),
    ("missing==1", False),
    ("missing~=x", False),
    ("missing!~=x", False),
    # ranges and lists
    ("floors==1..5", True),
    ("floors==6..9", False),
    ("floors!=6..9", True),
    ("floors!=1..5", False),
    ('name=="A".."E"', True),
    ('floors=="1".."9"', False),
    ('floors!="1".."9"', True),
    ("floors==1,3,5", True),
    ("floors==1,3", False),
    ("floors!=1,3", True),
    ("floors!=1,5", False),
    # arrays: included / not included
    ('tags=="red"', True),
    ('tags=="black"', False),
    ('tags!="black"', True),
    ('tags!="red"', False),
    ('tags=="black","red"', True),
    ('tags!="black","red"', False),
    ('tags!="black","white"', True),
    # multi-attribute instances: any instance
    ("temperature==4", True),
    ("temperature==18", True),
    ("temperature>10", True),
    ("temperature>20", False),
    ("temperature!=4", True),
    ("temperature.accuracy>=0.9", True),
    ("temperature.accuracy<0.5", False),
    # dates, times and date-times compare as instants
    ("name.observedAt==2026-11-21T09:00:00Z", True),
    ("name.observedAt==2026-11-21T10:00:00+01:00", True),
    ("name.observedAt>2026-11-21T08:59:59.999Z", True),
    ("name.observedAt<2026-11-21T09:00:00Z", False),
    ("name.observedAt==2026-11-21T08:00:00Z..2026-11-21T10:00:00Z", True),
    ('name.observedAt=="2026-11-21T09:00:00Z"', True),
    ("name.observedAt==2026-11-21", False),
    ("createdAt>=2026-11-21T10:00:00Z", True),
    ("modifiedAt<2026-11-21T10:30:00Z", False),
    ("inspected>2025-01-01T00:00:00Z", True),
    ("inspected<2025-03-01T08:00:00Z", False),
    ("opened<2000-01-01", True),
    ("opened==1999-01-01..1999-12-31", True),
    ("opened>2000-01-01T00:00:00Z", False),
    ("closes>17:59:59Z", True),
    ("closes==20:00:00+02:00", True),
    ("closes<12:00:00Z", False),
    ("floors.unitCode==\"C62\"", True),
    ("temperature.datasetId==\"urn:ngsi-ld:Dataset:outdoor\"", True),
    # compound values
    ('address[city]=="Rotterdam"', True),
    ('address[city]!="Rotterdam"', False),
    ('address[city]!="Delft"', True),
    ('address[country]!="NL"', False),
    ('address[geo.zip]=="3011"', True),
    ('address=="Rotterdam"', False),
    ('raw[value]=="Overstay 60 minutes"', True),
    ('raw[id]~=^85', True),
    # Relationships: object(s); only == and !=
    ("owner==urn:ngsi-ld:Person:1", True),
    ('owner=="urn:ngsi-ld:Person:1"', True),
    ("owner!=urn:ngsi-ld:Person:1", False),
    ("owner!=urn:ngsi-ld:Person:2", True),
    ("owner==urn:ngsi-ld:Person:2,urn:ngsi-ld:Person:1", True),
    ('owner>"urn:a"', False),
    ("owner~=Person", False),
    ("owner!~=Nothing", False),
    ("neighbours==urn:ngsi-ld:Building:3", True),
    ("neighbours!=urn:ngsi-ld:Building:3", False),
    ("parts==urn:ngsi-ld:Part:2", True),
    ("parts!=urn:ngsi-ld:Part:9", True),
    ("parts!=urn:ngsi-ld:Part:1", False),
    # LanguageProperty: any language, one language, * for any
    ('title=="Depot"', True),
    ('title[*]=="Opslag"', True),
    ('title[en]=="Depot"', True),
    ('title[nl]=="Depot"', False),
    ('title[fr]=="entrepôt"', True),
    ('title[en]!="Depot"', False),
    ('title[en]!="Opslag"', True),
    ('title[*]!="red"', True),
    ('title[*]!="Opslag"', False),
    ('title[de]!="x"', False),
    ('title~=^Ops', True),
    # VocabProperty (stored expanded) and ListProperty
    ("category==https://example.org/commercial", True),
    ("category!=https://example.org/residential", True),
    ("levels==2", True),
    ("levels==7", False),
    ("levels!=7", True),
    ("levels>2", True),
    ("levels>3", False),
    # GeoProperty: existence only
    ("location", True),
    ("location==1", False),
    # pattern match: search semantics, strings only
    ("name~=Noord", True),
    ("name~=^Noord", False),
    ("name~=(?i)^depot", True),
    ("name!~=Zuid", True),
    ("name!~=Noord", False),
    ("floors~=5", False),
    ("floors!~=5", False),
    ('tags~="^re"', True),
    ('tags!~="^re"', False),
    ('tags!~="^x"', True),
    # logic
    ("floors==5;height>20", True),
    ("floors==5;height>30", False),
    ("floors==6|height>20", True),
    ("floors==6|height>30", False),
    ("floors==6;missing|name", True),
    ("floors==6;(missing|name)", False),
    ("(floors==5|x);(y|height>20)", True),
]


@pytest.mark.parametrize(("text", "expected"), TRUTH)
def test_truth_table(text, expected):
    node = parse_q(text).map_attributes(expand)
    assert matches(node, BUILDING) is expected


def test_vocab_values_are_expanded_before_comparison():
    node = parse_q('category=="commercial"').map_attributes(expand)
    assert matches(node, BUILDING) is False
    assert matches(node, BUILDING, expand_vocab=expand) is True
    unquoted = parse_q("category==residential,commercial").map_attributes(expand)
    assert matches(unquoted, BUILDING, expand_vocab=expand) is True
    assert matches(parse_q("category!=commercial").map_attributes(expand), BUILDING,
                   expand_vocab=expand) is False


def test_vocab_expansion_leaves_other_attributes_alone():
    node = parse_q('name=="Depot Noord"').map_attributes(expand)
    assert matches(node, BUILDING, expand_vocab=lambda term: EX + term) is True


def test_unexpanded_names_do_not_match_expanded_entities():
    assert matches(parse_q("floors==5"), BUILDING) is False


def test_entities_without_attributes_match_nothing_but_members():
    bare = {"id": "urn:ngsi-ld:Thing:1", "type": [EX + "Thing"], "createdAt": "2026-01-01T00:00:00Z"}
    assert matches(parse_q("a"), bare) is False
    assert matches(parse_q("a!=1"), bare) is False
    assert matches(parse_q("createdAt<2026-06-01T00:00:00Z"), bare) is True


def test_malformed_stored_shapes_do_not_raise():
    odd = {
        "attributes": {
            EX + "a": "not-a-list",
            EX + "b": [{"type": "Property"}, "junk", {"type": "Property", "value": 1}],
            EX + "c": [{"type": "LanguageProperty", "languageMap": "oops"}],
            EX + "d": {"type": "Property", "value": 2},
        }
    }
    assert matches(parse_q("a").map_attributes(expand), odd) is False
    assert matches(parse_q("b==1").map_attributes(expand), odd) is True
    assert matches(parse_q("c").map_attributes(expand), odd) is False
    assert matches(parse_q("d==2").map_attributes(expand), odd) is True


def test_hand_built_trees_with_mismatched_operands_do_not_match():
    name = AttrPath((EX + "name",))
    assert matches(Comparison(name, Op.MATCH, Text("Depot")), BUILDING) is False
    assert matches(Comparison(name, Op.GT, Pattern("x")), BUILDING) is False
    assert matches(Comparison(AttrPath((EX + "floors",)), Op.EQ, Pattern("5")), BUILDING) is False
    assert matches(Exists(name), BUILDING) is True
    assert matches(Comparison(AttrPath((EX + "floors",)), Op.LE, Number(5)), BUILDING) is True


def test_scope_trees_are_refused_by_the_q_evaluator():
    with pytest.raises(TypeError):
        matches(ScopeTerm(("a",)), BUILDING)


def test_map_attributes_maps_names_only():
    node = parse_q('a.b[c.d]==1;title[en]=="x"|x.observedAt;createdAt>2020-01-01')
    mapped = node.map_attributes(str.upper)
    assert mapped == parse_q('A.B[c.d]==1;TITLE[en]=="x"|X.observedAt;createdAt>2020-01-01')
    assert node.attribute_names() == ("a", "b", "title", "x")
    assert mapped.attribute_names() == ("A", "B", "TITLE", "X")
