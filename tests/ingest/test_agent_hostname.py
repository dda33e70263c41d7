"""The token names the host; the hostname in a batch names the machine, and one token serves one machine.

Driven as an operator does: `create_agent_token --org CODE --host gpu-a100-01`, then the agent on a cloud
VM whose hostname is something else entirely.
"""

import io
import json

from django.core.management import call_command
from django.urls import reverse

from ingest.models import AgentBatch, Gpu, GpuHost, GpuMinute, ProcessMinute
from tests.base import BaseTestCase
from tests.ingest.test_agent_api import T0, batch

URL = "/api/v1/agent/samples/"


def issue_token(org, host):
    """A token as `manage.py create_agent_token --json` prints it."""
    out = io.StringIO()
    call_command("create_agent_token", "--org", str(org.code), "--host", host, "--json", stdout=out)
    return json.loads(out.getvalue())["token"]


def renamed_gpus(body, suffix):
    """`body` with every GPU uuid changed, as a different machine's GPUs would be."""
    for item in (*body["gpus"], *body["samples"], *body["processes"]):
        key = "uuid" if "uuid" in item else "gpu_uuid"
        item[key] += suffix
    return body


class AgentHostnameTests(BaseTestCase):
    def setUp(self):
        self.token = issue_token(self.org, "gpu-a100-01")

    def post(self, body, token=None):
        return self.client.post(
            URL, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token or self.token}"
        )

    def written(self):
        return (
            AgentBatch.objects.count(),
            GpuMinute.objects.count(),
            ProcessMinute.objects.count(),
            list(Gpu.objects.order_by("uuid").values_list("uuid", "host__name")),
            list(GpuHost.objects.order_by("org", "name").values_list("name", "reported_hostname", "last_seen_at")),
        )

    def test_it_stores_a_batch_from_any_hostname_on_the_tokens_host(self):
        response = self.post(batch("ip-10-0-3-17-r1-1", host="ip-10-0-3-17"))
        self.assertEqual(response.status_code, 201, response.content)
        host = GpuHost.objects.get(org=self.org)
        self.assertEqual((host.name, host.reported_hostname), ("gpu-a100-01", "ip-10-0-3-17"))
        self.assertEqual(set(Gpu.objects.filter(host=host).values_list("uuid", flat=True)), {"GPU-aaa", "GPU-bbb"})
        self.assertEqual(AgentBatch.objects.get().host, host)

    def test_it_accepts_the_same_machine_again(self):
        self.assertEqual(self.post(batch("b1", host="ip-10-0-3-17")).status_code, 201)
        later = batch("b2", start=T0.replace(minute=1), host="IP-10-0-3-17")  # hostnames ignore case
        self.assertEqual(self.post(later).status_code, 201)
        self.assertEqual(AgentBatch.objects.count(), 2)
        self.assertEqual(GpuHost.objects.get().reported_hostname, "ip-10-0-3-17")

    def test_it_refuses_a_second_machine_with_the_same_token_naming_both(self):
        self.post(batch("b1", host="ip-10-0-3-17"))
        before = self.written()
        response = self.post(batch("b2", start=T0.replace(minute=1), host="ip-10-0-9-4"))
        self.assertEqual(response.status_code, 409)
        answer = response.json()
        self.assertEqual(answer["code"], "host_conflict")
        self.assertEqual(
            (answer["host"], answer["recorded_hostname"], answer["reported_hostname"]),
            ("gpu-a100-01", "ip-10-0-3-17", "ip-10-0-9-4"),
        )
        self.assertIn("'ip-10-0-3-17'", answer["detail"])
        self.assertIn("'ip-10-0-9-4'", answer["detail"])
        self.assertEqual(self.written(), before, "nothing of the refused batch is written")

    def test_it_answers_a_replay_of_a_stored_batch_as_a_duplicate_from_any_machine(self):
        self.post(batch("b1", host="ip-10-0-3-17"))
        response = self.post(batch("b1", host="ip-10-0-9-4"))
        self.assertEqual((response.status_code, response.json()["status"]), (200, "duplicate"))
        self.assertEqual(GpuHost.objects.get().reported_hostname, "ip-10-0-3-17")

    def test_it_refuses_a_gpu_of_another_host_as_a_field_error(self):
        self.post(batch("b1", host="ip-10-0-3-17"))
        before = self.written()
        other = issue_token(self.org, "gpu-a100-02")
        body = renamed_gpus(batch("c1", start=T0.replace(minute=1), host="ip-10-0-9-4"), "-new")
        body["gpus"][1]["uuid"] = "GPU-bbb"  # one GPU already reported by gpu-a100-01
        for item in (*body["samples"], *body["processes"]):
            item["gpu_uuid"] = "GPU-bbb" if item["gpu_uuid"] == "GPU-bbb-new" else item["gpu_uuid"]
        response = self.post(body, token=other)
        self.assertEqual(response.status_code, 400)
        errors = response.json()
        self.assertEqual(errors["gpus"][0], {})
        self.assertIn("gpu-a100-01", errors["gpus"][1]["uuid"][0])
        self.assertEqual(self.written(), before, "no GPU moved, no host created, nothing stored")

    def test_it_keeps_tenants_apart(self):
        self.post(batch("b1", host="ip-10-0-3-17"))
        before = self.written()
        charlies = issue_token(self.charlies_org, "gpu-a100-01")  # the same host name in org B
        response = self.post(batch("b1", host="ip-10-0-9-4"), token=charlies)  # and the same GPU uuids
        self.assertEqual(response.status_code, 201, response.content)
        mine = GpuHost.objects.get(org=self.org)
        self.assertEqual(mine.reported_hostname, "ip-10-0-3-17")
        self.assertEqual(set(Gpu.objects.filter(org=self.org).values_list("host", flat=True)), {mine.pk})
        self.assertEqual(AgentBatch.objects.filter(org=self.org).count(), before[0])
        theirs = GpuHost.objects.get(org=self.charlies_org)
        self.assertEqual((theirs.name, theirs.reported_hostname), ("gpu-a100-01", "ip-10-0-9-4"))


class ReplacementMachineTests(BaseTestCase):
    """The agent moves to a replacement machine: an owner forgets the recorded one in the host's settings."""

    def setUp(self):
        self.token = issue_token(self.org, "gpu-a100-01")
        self.post(batch("old-1", host="ip-10-0-3-17"))
        self.host = GpuHost.objects.get(org=self.org)
        self.edit = reverse("finops-gpu-host-edit", kwargs={"org_code": self.org.code, "code": self.host.code})

    def post(self, body):
        return self.client.post(
            URL, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {self.token}"
        )

    def settings(self, **extra):
        return {"owner": "ml", "provider": "AWS", "instance_type": "", "bill_resource_id": "",
                "hourly_rate_amount": "", "currency": "USD", **extra}  # fmt: skip

    def test_it_records_the_next_machine_after_the_old_one_is_forgotten(self):
        replacement = batch("new-1", start=T0.replace(minute=1), host="ip-10-0-9-4")
        self.assertEqual(self.post(replacement).status_code, 409)
        self.client.force_login(self.alice)
        page = self.client.get(self.edit)
        self.assertContains(page, "ip-10-0-3-17")
        self.assertContains(page, "Forget the recorded machine")
        self.assertEqual(self.client.post(self.edit, self.settings(forget_machine="on")).status_code, 302)
        self.client.logout()
        self.assertEqual(self.post(replacement).status_code, 201, "the spooled batch goes through on its next try")
        self.host.refresh_from_db()
        self.assertEqual(self.host.reported_hostname, "ip-10-0-9-4")
        old = batch("old-2", start=T0.replace(minute=2), host="ip-10-0-3-17")
        self.assertEqual(self.post(old).status_code, 409, "now the old machine is the second one")

    def test_it_keeps_the_recorded_machine_when_other_settings_are_saved(self):
        self.client.force_login(self.alice)
        self.assertEqual(self.client.post(self.edit, self.settings()).status_code, 302)
        self.host.refresh_from_db()
        self.assertEqual((self.host.owner, self.host.reported_hostname), ("ml", "ip-10-0-3-17"))

    def test_it_requires_write(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.client.post(self.edit, self.settings(forget_machine="on")).status_code, 403)
        self.host.refresh_from_db()
        self.assertEqual(self.host.reported_hostname, "ip-10-0-3-17")

    def test_it_hides_other_orgs(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.post(self.edit, self.settings(forget_machine="on")).status_code, 404)
        self.host.refresh_from_db()
        self.assertEqual(self.host.reported_hostname, "ip-10-0-3-17")
