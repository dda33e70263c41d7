"""The one GPU detector against a corpus of real instance types, SKU and meter names and their look-alikes, the real
sample bills through their sources, and random decorations of GPU names."""

import unittest
from collections import Counter

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.gpu_names import LINE_FIELDS, GpuMatch, gpu_detect, line_gpu, line_gpu_type, tokens
from ingest.readers import open_table
from ingest.sources import BILL_SOURCES
from ingest.sources.azure_cost import AzureCostSource
from ingest.sources.focus import FocusSource, gpu_columns, gpu_type_of
from ingest.sources.gcp_billing import GcpBillingSource
from ingest.sources.mapped_csv import MappedCsvSource
from tests.base import sample_path
from tests.ingest import test_focus_columnar as focus_columnar_tests
from tests.ingest import test_source_aws_cur as cur
from tests.ingest import test_source_azure_cost as azure
from tests.ingest import test_source_gcp_billing as gcp
from tests.ingest import test_source_oci_cost as oci
from tests.ingest.helpers import FOCUS_SPEC_SAMPLES
from tests.ingest.test_bill_uploads import UploadTestCase

# (provider, the field the name comes from, name, model, GPU count the name gives). From the providers' public
# instance-type tables and price lists, and from the sample bills in ../shared/samples ("sample" in the field).
GPUS = [
    ("AWS", "product/instanceType", "p5.48xlarge", "H100", 8),
    ("AWS", "product/instanceType", "p5e.48xlarge", "H200", 8),
    ("AWS", "product/instanceType", "p5en.48xlarge", "H200", 8),
    ("AWS", "product/instanceType", "p4d.24xlarge", "A100", 8),
    ("AWS", "product/instanceType", "p4de.24xlarge", "A100", 8),
    ("AWS", "product/instanceType", "p3.2xlarge", "V100", 1),
    ("AWS", "product/instanceType", "p3.16xlarge", "V100", 8),
    ("AWS", "product/instanceType", "p3dn.24xlarge", "V100", 8),
    ("AWS", "product/instanceType", "p6-b200.48xlarge", "B200", 8),
    ("AWS", "product/instanceType", "g4dn.xlarge", "T4", 1),
    ("AWS", "product/instanceType", "g4dn.12xlarge", "T4", 4),
    ("AWS", "product/instanceType", "g5.xlarge", "A10G", 1),
    ("AWS", "product/instanceType", "g5.12xlarge", "A10G", 4),
    ("AWS", "product/instanceType", "g5.48xlarge", "A10G", 8),
    ("AWS", "product/instanceType", "g6.xlarge", "L4", 1),
    ("AWS", "product/instanceType", "g6.48xlarge", "L4", 8),
    ("AWS", "product/instanceType", "g6e.12xlarge", "L40S", 4),
    ("AWS", "product/instanceType", "gr6.4xlarge", "L4", 1),
    ("AWS", "product/instanceType", "g6f.xlarge", "L4", None),  # an eighth of a GPU
    ("AWS", "product/instanceType", "g5g.16xlarge", "T4G", 2),
    ("AWS", "product/instanceType", "g4ad.8xlarge", "V520", 2),
    ("AWS", "product/instanceType", "g3.8xlarge", "M60", 2),
    ("AWS", "product/instanceType", "trn1.32xlarge", "Trainium", 16),
    ("AWS", "product/instanceType", "trn2.48xlarge", "Trainium2", 16),
    ("AWS", "product/instanceType", "inf1.6xlarge", "Inferentia", 4),
    ("AWS", "product/instanceType", "inf2.24xlarge", "Inferentia2", 6),
    ("AWS", "product/instanceType", "dl1.24xlarge", "Gaudi", 8),
    ("AWS", "product/instanceType", "ml.g5.xlarge", "A10G", 1),
    ("AWS", "product/instanceType", "ml.p4d.24xlarge", "A100", 8),
    ("AWS", "lineItem/UsageType", "USE1-BoxUsage:p5.48xlarge", "H100", 8),
    ("AWS", "lineItem/UsageType", "USW2-SpotUsage:g6e.xlarge", "L40S", 1),
    ("AWS", "ChargeDescription (sample)", "$1.624 per On Demand Linux g5.4xlarge Instance Hour", "A10G", 1),
    ("AWS", "ChargeDescription (sample)", "$1.14 per On Demand Linux g3.4xlarge Instance Hour", "M60", 1),
    ("Google Cloud", "system_labels machine_spec", "a2-highgpu-1g", "A100", 1),
    ("Google Cloud", "system_labels machine_spec", "a2-ultragpu-8g", "A100", 8),
    ("Google Cloud", "system_labels machine_spec", "a2-megagpu-16g", "A100", 16),
    ("Google Cloud", "system_labels machine_spec", "a3-highgpu-8g", "H100", 8),
    ("Google Cloud", "system_labels machine_spec", "a3-megagpu-8g", "H100", 8),
    ("Google Cloud", "system_labels machine_spec", "a3-ultragpu-8g", "H200", 8),
    ("Google Cloud", "system_labels machine_spec", "a4-highgpu-8g", "B200", 8),
    ("Google Cloud", "system_labels machine_spec", "g2-standard-4", "L4", 1),
    ("Google Cloud", "system_labels machine_spec", "g2-standard-48", "L4", 4),
    ("Google Cloud", "system_labels machine_spec", "ct5lp-hightpu-4t", "TPU v5e", 4),
    ("Google Cloud", "sku.description", "Nvidia Tesla T4 GPU running in Americas", "T4", None),
    ("Google Cloud", "sku.description", "Nvidia Tesla A100 GPU running in Americas", "A100", None),
    ("Google Cloud", "sku.description", "Nvidia H100 80GB GPU running in Americas", "H100", None),
    ("Google Cloud", "sku.description", "Nvidia L4 GPU attached to Spot Preemptible VMs running in EMEA", "L4", None),
    ("Google Cloud", "sku.description", "Nvidia Tesla P4 GPU running in Americas", "P4", None),
    ("Google Cloud", "sku.description", "Nvidia Tesla V100 GPU running in APAC", "V100", None),
    ("Google Cloud", "sku.description", "A2 Instance Core running in Americas", "A100", None),
    ("Google Cloud", "sku.description", "A3 Instance Core running in Americas", "H100", None),
    ("Google Cloud", "sku.description", "G2 Instance Ram running in Americas", "L4", None),
    ("Google Cloud", "accelerator", "TPU v5e", "TPU v5e", None),
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_NC6s_v3", "V100", 1),
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_NC24s_v3", "V100", 4),
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_NC24ads_A100_v4", "A100", 1),
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_NC96ads_A100_v4", "A100", 4),
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_ND96asr_v4", "A100", 8),
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_ND96amsr_A100_v4", "A100", 8),
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_ND96isr_H100_v5", "H100", 8),
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_NC40ads_H100_v5", "H100", 1),
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_ND96isr_MI300X_v5", "MI300X", 8),
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_NV36ads_A10_v5", "A10", 1),
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_NV12ads_A10_v5", "A10", None),  # a third of a GPU
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_NC4as_T4_v3", "T4", 1),
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_NC64as_T4_v3", "T4", 4),
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_ND40rs_v2", "V100", 8),
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_NV12s_v3", "M60", 1),
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_NV32as_v4", "MI25", 1),
    ("Microsoft", "MeterName", "NC24ads A100 v4", "A100", 1),
    ("Microsoft", "MeterName", "ND96isr H100 v5", "H100", 8),
    ("Microsoft", "MeterName", "NC6s v3", "V100", 1),
    ("Microsoft", "MeterSubCategory", "NCasT4 v3 Series", "T4", None),
    ("Microsoft", "MeterSubCategory", "NDasrA100 v4 Series", "A100", None),
    ("Microsoft", "MeterSubCategory", "NCv3 Series", "V100", None),
    ("Oracle", "shape", "BM.GPU.H100.8", "H100", 8),
    ("Oracle", "shape", "BM.GPU4.8", "A100", 8),
    ("Oracle", "shape", "BM.GPU.A100-v2.8", "A100", 8),
    ("Oracle", "shape", "VM.GPU.A10.1", "A10", 1),
    ("Oracle", "shape", "BM.GPU.A10.4", "A10", 4),
    ("Oracle", "shape", "BM.GPU.MI300X.8", "MI300X", 8),
    ("Oracle", "shape", "BM.GPU.L40S.4", "L40S", 4),
    ("Oracle", "shape", "VM.GPU3.2", "V100", 2),
    ("Oracle", "product/Description", "Compute - GPU - H100", "H100", None),
    ("Lambda", "instance type", "gpu_1x_a10", "A10", 1),
    ("Lambda", "instance type", "gpu_1x_a100_sxm4", "A100", 1),
    ("Lambda", "instance type", "gpu_8x_a100_80gb_sxm4", "A100", 8),
    ("Lambda", "instance type", "gpu_8x_h100_sxm5", "H100", 8),
    ("Lambda", "instance type", "gpu_1x_h100_pcie", "H100", 1),
    ("Lambda", "instance type", "gpu_1x_gh200", "GH200", 1),
    ("Lambda", "instance type", "gpu_8x_v100", "V100", 8),
    ("Lambda", "instance type", "gpu_1x_rtx6000", "RTX 6000", 1),
    ("Lambda", "instance type", "gpu_4x_a6000", "A6000", 4),
    ("Lambda", "instance type", "gpu_8x_b200_sxm6", "B200", 8),
    ("CoreWeave", "instance type", "gd-8xh100ib-i128", "H100", 8),
    ("CoreWeave", "gpu class", "H100_NVLINK_80GB", "H100", None),
    ("CoreWeave", "gpu class", "A100_PCIE_80GB", "A100", None),
    ("CoreWeave", "gpu class", "RTX_A5000", "A5000", None),
    ("CoreWeave", "gpu class", "A40", "A40", None),
    ("CoreWeave", "gpu class", "Quadro_RTX_5000", "RTX 5000", None),
    ("RunPod", "gpu type", "1x NVIDIA H100 80GB HBM3", "H100", 1),
    ("RunPod", "gpu type", "NVIDIA GeForce RTX 4090", "RTX 4090", None),
    ("RunPod", "gpu type", "NVIDIA RTX A6000", "A6000", None),
    ("RunPod", "gpu type", "AMD Instinct MI300X OAM", "MI300X", None),
    ("RunPod", "gpu type", "NVIDIA L40S", "L40S", None),
    ("RunPod", "gpu type", "NVIDIA RTX 6000 Ada Generation", "RTX 6000 Ada", None),
    ("RunPod", "gpu type", "NVIDIA A100-SXM4-80GB", "A100", None),
    ("Paperspace", "machine type", "A100-80G", "A100", None),
    ("Paperspace", "machine type", "P5000", "P5000", None),
    ("Paperspace", "machine type", "RTX4000", "RTX 4000", None),
    ("Paperspace", "machine type", "A4000", "A4000", None),
    ("Paperspace", "machine type", "V100-32G", "V100", None),
    ("Nebius", "platform", "gpu-h100-sxm", "H100", None),
    ("Nebius", "platform", "gpu-h200-sxm", "H200", None),
    ("Crusoe", "instance type", "h100-80gb-sxm-ib.8x", "H100", 8),
    ("Crusoe", "instance type", "a100-80gb.1x", "A100", 1),
    ("Crusoe", "instance type", "l40s-48gb.10x", "L40S", 10),
    ("Together", "instance", "8x H100 SXM", "H100", 8),
    ("Lambda", "invoice Instance Type", "1x A100 40GB", "A100", 1),
    ("Vast", "gpu_name", "RTX_4090", "RTX 4090", None),
    ("Vast", "gpu_name", "RTX_3090", "RTX 3090", None),
    ("Intel", "instance type", "Intel Gaudi 2", "Gaudi2", None),
]
# Names that look like a GPU's and are not one: the detector must say None.
LOOKALIKES = [
    ("AWS", "product/instanceType", "t4g.medium"),  # Graviton, not a T4
    ("AWS", "product/instanceType", "db.t4g.large"),
    ("AWS", "product/instanceType", "cache.t4g.micro"),
    ("AWS", "product/instanceType", "m6g.large"),
    ("AWS", "product/instanceType", "c7gn.xlarge"),
    ("AWS", "product/instanceType", "m5.large"),
    ("AWS", "product/instanceType", "r6g.xlarge"),
    ("AWS", "product/instanceType", "i4i.large"),
    ("AWS", "product/instanceType", "a1.medium"),
    ("AWS", "product/instanceType", "m7i-flex.xlarge"),
    ("AWS", "ChargeDescription (sample)", "$0.0116 per On Demand Linux t2.micro Instance Hour"),
    ("AWS", "lineItem/UsageType", "USW2-EBS:VolumeUsage.gp3"),
    ("AWS", "SkuId (demo)", "db.r6g.large"),
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_L4s"),  # storage optimised
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_L8s_v3"),
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_L80s_v3"),
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_NP10s"),  # an FPGA
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_A10"),  # compute intensive, no GPU
    ("Microsoft", "AdditionalInfo ServiceType", "Standard_A2_v2"),
    ("Microsoft", "AdditionalInfo ServiceType (sample)", "Standard_DS2_v2"),
    ("Microsoft", "MeterName", "P40 LRS Disk"),  # Premium SSD tiers
    ("Microsoft", "MeterName (sample)", "P4 LRS Disk"),
    ("Microsoft", "MeterName (sample)", "P30 LRS Disk"),
    ("Microsoft", "ChargeDescription (sample)", "Premium SSD Managed Disks - P4 LRS - US East"),
    ("Microsoft", "MeterSubCategory", "Premium SSD Managed Disks P40"),
    ("Microsoft", "MeterSubCategory (sample)", "Dv3/DSv3 Series"),
    ("Microsoft", "MeterName (sample)", "B2s"),
    ("Microsoft", "MeterName (sample)", "D2 v3/D2s v3"),
    ("Microsoft", "MeterName", "L8s v2 NVMe"),
    ("Microsoft", "MeterName (sample)", "Standard Included LB Rules and Outbound Rules"),
    ("Google Cloud", "system_labels machine_spec", "n2-standard-8"),
    ("Google Cloud", "system_labels machine_spec", "e2-medium"),
    ("Google Cloud", "sku.description", "T2A Instance Core running in Americas"),
    ("Google Cloud", "sku.description", "T2D AMD Instance Core running in Americas"),
    ("Google Cloud", "sku.description", "N2 Instance Core running in Americas"),
    ("Google Cloud", "sku.description (sample)", "Log Volume"),
    ("Oracle", "shape", "VM.Standard.E4.Flex"),
    ("Oracle", "shape", "VM.Standard3.Flex"),
    ("Oracle", "shape", "VM.Standard.A1.Flex"),
    ("Oracle", "product/Description (sample)", "Standard - E4 - Memory"),
    ("Oracle", "ChargeDescription (sample)", "Standard - A1"),
    ("any", "ChargeDescription", "Network Load Balancer L4"),  # layer 4
    ("any", "platform", "linux/x86_64"),
]


def test_it_has_a_corpus_of_real_names():
    assert len(GPUS) + len(LOOKALIKES) >= 80
    assert len(LOOKALIKES) >= 20
    assert len({name for _, _, name, _, _ in GPUS} | {name for _, _, name in LOOKALIKES}) == len(GPUS) + len(LOOKALIKES)


@pytest.mark.parametrize(("provider", "field", "name", "model", "count"), GPUS)
def test_it_names_the_gpu_and_its_count(provider, field, name, model, count):
    found = gpu_detect(name)
    assert found is not None, f"{provider} {field} {name!r}"
    assert (found.model, found.count) == (model, count), f"{provider} {field} {name!r}: {found}"


@pytest.mark.parametrize(("provider", "field", "name"), LOOKALIKES)
def test_it_ignores_a_lookalike(provider, field, name):
    assert gpu_detect(name) is None, f"{provider} {field} {name!r}"


def test_it_has_full_precision_and_recall_over_the_corpus():
    true_positives = false_positives = false_negatives = 0
    for _, _, name, model, _ in GPUS:
        found = gpu_detect(name)
        if found is not None and found.model == model:
            true_positives += 1
        else:
            false_negatives += 1
            false_positives += found is not None  # a wrong model is a false positive too
    false_positives += sum(gpu_detect(name) is not None for _, _, name in LOOKALIKES)
    precision = true_positives / (true_positives + false_positives)
    recall = true_positives / (true_positives + false_negatives)
    summary = (
        f"GPU names: precision {precision:.3f}, recall {recall:.3f} "
        f"over {len(GPUS)} GPU names and {len(LOOKALIKES)} look-alikes"
    )
    print(summary)  # noqa: T201 (shown with -s; the assertion message carries it otherwise)
    assert (precision, recall) == (1.0, 1.0), summary


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8xH100", ["8", "x", "h", "100"]),
        ("gpu_8x_h100_sxm5", ["gpu", "8", "x", "h", "100", "sxm", "5"]),
        ("2xA100-80G", ["2", "x", "a", "100", "80", "g"]),
        ("t4g.medium", ["t", "4", "g", "medium"]),
        ("a10g", ["a", "10", "g"]),
        ("l40s", ["l", "40", "s"]),
        ("MI300X", ["mi", "300", "x"]),
        ("RTX 4090", ["rtx", "4090"]),
        ("NCasT4_v3", ["ncas", "t", "4", "v", "3"]),
        ("(8x)", ["8", "x"]),
        ("x8", ["x", "8"]),
        ("p5.48xlarge", ["p", "5", "48", "xlarge"]),
    ],
)
def test_it_tokenises_at_separators_case_changes_and_letter_digit_boundaries(text, expected):
    assert tokens(text) == expected


def test_it_says_which_rule_matched():
    assert gpu_detect("p5.48xlarge").via == "aws_family"
    assert gpu_detect("a3-highgpu-8g").via == "gcp_family"
    assert gpu_detect("Standard_ND96isr_H100_v5").via == "azure_family"
    assert gpu_detect("BM.GPU.H100.8").via == "oci_shape"
    assert gpu_detect("gpu_8x_h100_sxm5").via == "lambda"
    assert gpu_detect("8xH100") == GpuMatch("H100", 8, "model")
    assert gpu_detect("Compute - GPU Standard - V2") == GpuMatch("GPU", None, "gpu_word")


def test_it_needs_a_gpu_word_for_p4_and_virtual_machines_for_a_bare_azure_size():
    assert gpu_detect("P4") is None
    assert gpu_detect("P4", "Nvidia Tesla GPU") == GpuMatch("P4", None, "model")
    assert gpu_detect("NC6") is None
    assert gpu_detect("NC6", "Virtual Machines") == GpuMatch("K80", 1, "azure_family")
    assert gpu_detect("NC Series", "NC6") == GpuMatch("K80", 1, "azure_family")  # the count from the other text


def test_it_reads_a_cost_lines_stored_fields():
    line = {field: "" for field in LINE_FIELDS}
    assert line_gpu(**line) is None
    assert line_gpu(**{**line, "charge_description": "$98.32 per On Demand Linux p5.48xlarge Instance Hour"}) == (
        GpuMatch("H100", 8, "aws_family")
    )
    assert line_gpu(**{**line, "resource_name": "train-h100-node-7"}) == GpuMatch("H100", None, "model")
    assert line_gpu(**{**line, "resource_name": "gpu-datasets"}) is None  # a name someone chose, not a GPU
    assert line_gpu(**{**line, "resource_type": "GPU instance"}) == GpuMatch("GPU", None, "gpu_word")
    assert line_gpu(**{**line, "gpu_type": "H100"}) == GpuMatch("H100", None, "model")  # what sources stored
    assert line_gpu(**{**line, "gpu_type": "Custom accelerator box"}) == GpuMatch("GPU", None, "gpu_type")
    assert line_gpu(**{**line, "gpu_type": "CPU only"}) is None
    assert line_gpu_type(instance_type="g5.xlarge", charge_description="anything") == "A10G"
    assert line_gpu_type(instance_type="m5.large") == ""


def test_it_reads_the_focus_columns_that_name_what_was_billed():
    header = ["BilledCost", "ResourceName", "SkuId", "ChargeDescription", "x_SkuMeterName", "x_ResourceGroupName",
              "x_BilledCostInUsd", "x_ServicePeriodStart", "x_SkuDetails", "x_SkuMeterId", "x_AccountId",
              "Tags"]  # fmt: skip
    columns, provider_texts = gpu_columns(header)
    assert columns == ("SkuId", "ChargeDescription", "x_SkuMeterName", "x_SkuDetails", "x_SkuMeterId", "ResourceName",
                       "x_ResourceGroupName", "x_AccountId")  # fmt: skip
    assert provider_texts == 5
    cells = ["", "", "NC24ads A100 v4", "", "", "vm-1", "rg", "1"]
    assert gpu_type_of("\x1f".join(cells), provider_texts) == "A100"
    cells = ["", "", "", "", "", "vm-1", "gpu-rg", "1"]
    assert gpu_type_of("\x1f".join(cells), provider_texts) == ""


def test_each_source_stores_the_model_its_naming_fields_give():
    header = (*cur.LEGACY_HEADER, "lineItem/UsageType")
    by_usage_type, by_description = cur.parse(
        cur.legacy({"product/instanceType": "", "lineItem/UsageType": "USE1-BoxUsage:g6e.12xlarge"}, header=header),
        cur.legacy({"product/instanceType": "", "lineItem/LineItemDescription": "$21.96 per p4d.24xlarge Hour"}),
    )
    assert (by_usage_type["gpu_type"], by_description["gpu_type"]) == ("L40S", "A100")

    vm_size = '{"ServiceType":"Standard_NC24ads_A100_v4","VMName":"gpu-vm_1"}'
    azure_rows = [
        AzureCostSource(org_currency="USD").parse(azure._record(**cells))
        for cells in (
            {"MeterSubCategory": "", "MeterName": "Compute Hours", "AdditionalInfo": vm_size},
            {"MeterSubCategory": "NC Series", "MeterName": "NC6"},
            {"MeterCategory": "Storage", "MeterSubCategory": "Premium SSD Managed Disks", "MeterName": "P4 LRS Disk"},
        )
    ]
    assert [row["gpu_type"] for row in azure_rows] == ["A100", "K80", ""]

    labels = '[{"key": "compute.googleapis.com/machine_spec", "value": "a2-highgpu-2g"}]'
    gcp_source = GcpBillingSource(org_currency="USD")
    gcp_rows = [
        gcp_source.parse(gcp._record(**{"sku.description": "A2 Instance Core running in Americas"})),
        gcp_source.parse(gcp._record(**{"system_labels": labels})),
        gcp_source.parse(gcp._record(**{"resource.name": "gpu-box"})),
    ]
    assert [row["gpu_type"] for row in gcp_rows] == ["A100", "A100", ""]

    gpu_shape, cpu_shape = ({"product/Description": d} for d in ("Compute - GPU Standard - V2", "Standard - E4"))
    oci_rows = oci.parse(oci.line(gpu_shape), oci.line(cpu_shape))
    assert [row["gpu_type"] for row in oci_rows] == ["GPU", ""]

    mapped = MappedCsvSource(
        org_currency="USD", options={"columns": {"date": "Date", "amount": "Amount", "gpu_type": "Type"}}
    )
    types = ("8x H100 SXM", "Custom rig", "", "CPU only")
    mapped_rows = [mapped.parse({"Date": "2026-10-01", "Amount": "1", "Type": kind}) for kind in types]
    assert [row["gpu_type"] for row in mapped_rows] == ["H100", "GPU", "", ""]

    focus = FocusSource(org_currency="USD")
    record = {"BilledCost": "1", "ChargePeriodStart": "2026-10-01T00:00:00Z", "ServiceName": "Virtual Machines",
              "x_SkuMeterSubcategory": "NCadsA100v4 Series", "ResourceName": "gpu-vm"}  # fmt: skip
    assert focus.parse(record)["gpu_type"] == "A100"
    assert focus.parse({**record, "x_SkuMeterSubcategory": "Dv3/DSv3 Series"})["gpu_type"] == ""


# Every real sample bill, the source that reads it and its GPU lines by (model, charge description), by hand.
G5 = ("A10G", "$1.624 per On Demand Linux g5.4xlarge Instance Hour")
G3 = ("M60", "$1.14 per On Demand Linux g3.4xlarge Instance Hour")
SAMPLE_BILLS = {
    "aws-cur/focus_converters_cur-legacy_anonymous_2023-11.csv": ("aws_cur", {}),
    "aws-cur/koku_test_cur_legacy_2018-06.csv": ("aws_cur", {}),
    "gcp/koku_gcp-bq-export-as-csv_2020-11.csv": ("gcp_billing", {}),
    "azure/finops-toolkit_EA_ActualCost_Small.csv": ("azure_cost", {}),  # P4 LRS Disk, B1s, D2 v3
    "azure/finops-toolkit_EA_AmortizedCost_Small.csv": ("azure_cost", {}),  # P4/P10/P30 disks
    "oci/focus_converters_oci-cost-report_2023-11.csv": ("oci_cost", {}),  # Standard - E4
    "focus/focus-sample-data_focus_sample_1000.csv": ("focus", {G5: 8, G3: 2}),
    **{f"focus/spec-v1.2_{name}.csv": ("focus", {}) for name in FOCUS_SPEC_SAMPLES},
}


@pytest.mark.parametrize("relative", SAMPLE_BILLS)
def test_it_finds_exactly_the_gpu_lines_of_each_sample_bill(relative):
    expected_source, expected_lines = SAMPLE_BILLS[relative]
    with open_table(sample_path(relative)) as table:
        source_class = next(s for s in BILL_SOURCES if s.detect(table.columns))
        assert source_class.name == expected_source
        source = source_class(org_currency="USD")
        assert source.missing_columns(table.columns) == []
        rows = [source.parse(record) for _, record in table.records()]
    found = Counter((r["gpu_type"], r["charge_description"]) for r in rows if r is not None and r["gpu_type"])
    assert found == Counter(expected_lines)


@unittest.skipUnless(connection.vendor == "postgresql", "the columnar path writes with PostgreSQL COPY; CI runs it")
class FocusPathsTests(UploadTestCase):
    """Both FOCUS paths store the sample's GPU types (test_focus_columnar compares whole rows)."""

    import_both_ways = focus_columnar_tests.ColumnarEquivalenceTests.import_both_ways

    def test_it_stores_the_gpu_types_of_the_focus_sample_on_both_paths(self):
        path = sample_path("focus/focus-sample-data_focus_sample_1000.csv")
        calls, _, _, fast_rows, slow_rows = self.import_both_ways(path.name, path.read_bytes())
        self.assertEqual(calls, [1])
        column = focus_columnar_tests.COMPARED.index("gpu_type")
        for rows in (fast_rows, slow_rows):
            self.assertEqual(Counter(row[column] for row in rows if row[column]), Counter({"A10G": 8, "M60": 2}))


GPU_SPELLINGS = [("H100", "H100"), ("h200", "H200"), ("B200", "B200"), ("GB200", "GB200"), ("A100", "A100"),
                 ("A10G", "A10G"), ("a10", "A10"), ("L4", "L4"), ("L40S", "L40S"), ("T4", "T4"), ("V100", "V100"),
                 ("MI300X", "MI300X"), ("RTX 4090", "RTX 4090"), ("RTX 6000 Ada", "RTX 6000 Ada"),
                 ("Gaudi2", "Gaudi2"), ("A6000", "A6000"), ("GH200", "GH200"), ("H20", "H20")]  # fmt: skip
LOOKALIKE_SPELLINGS = ["t4g.medium", "db.t4g.large", "Standard_L4s", "Standard_L8s_v3", "P40 LRS Disk",
                       "P4 LRS Disk", "m6g.large", "c7gn.xlarge", "n2-standard-8", "VM.Standard.E4.Flex",
                       "Standard_NP10s", "a1.medium", "Network Load Balancer L4", "Standard_A10"]  # fmt: skip
SEPARATORS = st.sampled_from(["_", "-", ".", " "])
CASES = st.sampled_from([str, str.lower, str.upper, str.title])


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.sampled_from(GPU_SPELLINGS),
    st.one_of(st.none(), st.integers(1, 16)),
    st.sampled_from(["", "_", "-", ".", " "]),
    SEPARATORS,
    st.sampled_from(["", "80GB", "SXM5", "PCIe", "NVLink", "HBM3", "Instance Hour"]),
    CASES,
)
def test_it_finds_a_decorated_gpu_name(spelling, count, glue, separator, suffix, case):
    name, model = spelling
    text = case((f"{count}x{glue}" if count else "") + name + (separator + suffix if suffix else ""))
    found = gpu_detect(text)
    assert found is not None and found.model == model, (text, found)
    if count:
        assert found.count == count, (text, found)


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.sampled_from(LOOKALIKE_SPELLINGS),
    st.one_of(st.none(), st.integers(1, 16)),
    SEPARATORS,
    st.sampled_from(["", "80GB", "Hours", "x8", "(8x)"]),
    CASES,
)
def test_it_ignores_a_decorated_lookalike(name, count, separator, suffix, case):
    text = case((f"{count}x{separator}" if count else "") + name + (separator + suffix if suffix else ""))
    assert gpu_detect(text) is None, text
