import poolwise


def test_all_names_exist() -> None:
    for name in poolwise.__all__:
        assert hasattr(poolwise, name), name


def test_no_unlisted_public_names() -> None:
    public = {n for n in vars(poolwise) if not n.startswith("_")}
    # submodules that Python binds as attributes of the package are not API
    import types

    public = {n for n in public if not isinstance(getattr(poolwise, n), types.ModuleType)}
    assert public <= set(poolwise.__all__) | {"annotations"}, public - set(poolwise.__all__)


def test_all_is_sorted_and_unique() -> None:
    assert list(poolwise.__all__) == sorted(set(poolwise.__all__))


def test_lazy_names_are_not_shadowed_by_subpackages() -> None:
    import importlib

    for module in (
        "poolwise.advisor._advise",
        "poolwise.comparison._run",
        "poolwise.checks._races",
    ):
        importlib.import_module(module)
    assert callable(poolwise.advise) and callable(poolwise.compare)
    assert callable(poolwise.check_races)
    assert "compare" in dir(poolwise)
