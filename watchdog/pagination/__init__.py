"""Pagination for any list: numbered pages with a capped count, or keyset pages by cursor.

Generic: no app is imported here. An app's pagination class subclasses
`pages.KeysetPagination` and names what is particular to its list (tickets.pagination).

- numbered.py: DRF's page numbers, with `page_size` and `page` checked strictly;
- counts.py: a count that stops at a limit, and how far a numbered page counts;
- cursors.py: a cursor's text: encoding and the refusal of anything we did not make;
- keyset.py: "the rows after this key" as query conditions, and a cursor key's type;
- schema.py: the OpenAPI description of the page and its `cursor` parameter;
- pages.py: the pagination class putting them together.
"""
