"""JSON document helpers shared by the readers: resynchronising after a broken item and
finding the list of posts among a document's top-level members."""

from pipeline.ingest.records import iter_json_array_items, object_members_before


def test_broken_item_in_a_minified_array_costs_only_that_item():
    text = '[{"id":"1","text":"a"},{"id":"2","text":bad,"x":[1,{"y":2}]},{"id":"3","text":"c"}]'
    records = list(iter_json_array_items(text, 0))
    assert [r.fields["id"] for r in records if r.error is None] == ["1", "3"]
    [broken] = [r for r in records if r.error is not None]
    assert broken.source_row == 2
    assert broken.raw == '{"id":"2","text":bad,"x":[1,{"y":2}]}'


def test_unterminated_string_resynchronises_on_the_next_item_line():
    text = '[\n    {"id": "1", "text": "a"},\n    {"id": "2", "text": "cut\n    {"id": "3", "text": "c"}\n]'
    records = list(iter_json_array_items(text, 2))
    assert [r.fields["id"] for r in records if r.error is None] == ["1", "3"]


def test_brackets_and_quotes_inside_strings_do_not_end_a_broken_item():
    text = '[{"id": "1", "text": "a ] } , [ \\" b", oops}, {"id": "2", "text": "ok"}]'
    records = list(iter_json_array_items(text, 0))
    assert [r.error is None for r in records] == [False, True]
    assert records[1].fields["id"] == "2"


def test_only_a_top_level_member_is_taken_for_the_list_of_posts():
    text = '{"meta": {"posts": ["not", "these"]}, "name": "مكتب الوزير", "posts": [{"id": "1"}]}'
    members, bracket = object_members_before(text, ("posts",))
    assert members == {"meta": {"posts": ["not", "these"]}, "name": "مكتب الوزير"}
    assert text[bracket:] == '[{"id": "1"}]}'


def test_a_document_without_the_list_is_not_taken_for_one():
    assert object_members_before('{"id": 1, "posts": 3}', ("posts",)) is None
    assert object_members_before('[{"posts": []}]', ("posts",)) is None
