"""Suite-wide hooks."""

# The longest modules first: under pytest-xdist (`make test` runs `-n auto --dist loadscope`) each module or test class
# goes whole to one worker in collection order, so a long one collected last would leave the other workers idle. The
# demo command's test comes before the browser tests: its build becomes the demo snapshot of the worker it lands on.
LONG_MODULES = (
    "tests/test_fuzz_api.py",
    "tests/accounts/test_commands.py",
    "tests/browser/",
    "tests/finops/test_identity.py",
)


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        path = item.nodeid
        return next((n for n, prefix in enumerate(LONG_MODULES) if path.startswith(prefix)), len(LONG_MODULES))

    items.sort(key=rank)  # stable: the order within each group is kept
