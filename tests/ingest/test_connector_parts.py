"""One delivery in several parts becomes one file: its name says what join_parts writes, CSV parts join with the
header once, and parts that do not fit together are refused with the reason."""

import gzip
import io

from django.test import SimpleTestCase

from ingest.connectors.base import ConnectorError
from ingest.connectors.parts import Part, join_parts, joined_suffix, parts_version


def parts(*names):
    return [Part(name, 1, f"etag-{n}") for n, name in enumerate(names)]


class JoinedPartsTests(SimpleTestCase):
    def test_the_name_of_a_joined_delivery_says_its_format(self):
        self.assertEqual(joined_suffix(parts("run/part_0.csv")), ".csv")
        self.assertEqual(joined_suffix(parts("run/part_0.csv", "run/part_1.csv")), ".csv.gz")
        self.assertEqual(joined_suffix(parts("a-000000000000.json", "a-000000000001.json")), ".jsonl.gz")
        self.assertEqual(joined_suffix(parts("x/0.snappy.parquet", "x/1.snappy.parquet")), ".parquet")
        self.assertEqual(joined_suffix(parts("manifest")), "")

    def test_csv_parts_join_with_the_header_once(self):
        stored = {"p0.csv": b"a,b\n1,2\n", "p1.csv.gz": gzip.compress(b"a,b\n3,4")}
        into = io.BytesIO()
        join_parts(parts("p0.csv", "p1.csv.gz"), lambda part, handle: handle.write(stored[part.name]), into)
        self.assertEqual(gzip.decompress(into.getvalue()), b"a,b\n1,2\n3,4\n")
        self.assertNotEqual(parts_version(parts("p0.csv", "p1.csv.gz")), parts_version(parts("p0.csv")))

    def test_parts_with_other_headers_are_refused(self):
        stored = {"p0.csv": b"a,b\n1,2\n", "p1.csv": b"a,c\n3,4\n"}
        with self.assertRaisesMessage(ConnectorError, "different headers (p1.csv differs"):
            join_parts(parts("p0.csv", "p1.csv"), lambda part, handle: handle.write(stored[part.name]), io.BytesIO())
