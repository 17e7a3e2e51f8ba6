"""Parameter declarations: parsing, validation messages, and checks of the declaration itself."""

import pytest

from musiclust.params import Bool, Choice, Float, Int, Str


def test_int_with_sentinel_parses_numbers_and_the_sentinel():
    p = Int("n_clusters", "auto", low=2, high=50, also=("auto",))
    assert p.parse("auto") == "auto"
    assert p.parse(" 10 ") == 10
    assert p.validate(10.0) == 10  # YAML may give 10.0


@pytest.mark.parametrize("raw", ["ten", "1", "51", "2.5", "true"])
def test_int_rejects_with_the_domain_in_the_message(raw):
    p = Int("n_clusters", "auto", low=2, high=50, also=("auto",))
    with pytest.raises(ValueError, match=r"expected an integer in \[2, 50\] or 'auto'"):
        p.parse(raw)


def test_int_rejects_bools_from_yaml():
    with pytest.raises(ValueError):
        Int("k", 3).validate(True)


def test_float_nullable_and_range():
    p = Float("duration", None, low=0.1, nullable=True)
    assert p.parse("none") is None
    assert p.parse("2.5") == 2.5
    with pytest.raises(ValueError, match=r"a number >= 0\.1 or none"):
        p.parse("0")
    with pytest.raises(ValueError):
        p.parse("nan")


def test_bool_words():
    p = Bool("whiten", False)
    assert p.parse("yes") is True and p.parse("False") is False and p.parse("1") is True
    with pytest.raises(ValueError, match="true or false"):
        p.parse("maybe")


def test_choice_matches_typed_choices_from_strings():
    p = Choice("n_fft", 2048, choices=(1024, 2048, 4096))
    assert p.parse("4096") == 4096
    with pytest.raises(ValueError, match="one of 1024, 2048, 4096"):
        p.parse("1000")


def test_str_accepts_scalars_not_lists():
    p = Str("path", "")
    assert p.validate(12) == "12"
    with pytest.raises(ValueError):
        p.validate(["a"])


@pytest.mark.parametrize(
    ("param", "problem"),
    [
        (Int("k", 0, low=1), "default of 'k' is invalid"),
        (Float("lr", 0.1, low=0.0, log=True), "log-scaled"),
        (Choice("mode", "a", choices=()), "declares no choices"),
        (Int("k", 5, low=10, high=1), "low > high"),
        (Int("k", 5, low=1, high=10, space=(0, 20)), "space bound 0 is invalid"),
        (Choice("m", "a", choices=("a", "b"), space=("a", "c")), "not in choices"),
        (Int("bad name", 1), "not an identifier"),
        (Int("k", 5, low=1, searchable=True), "no search range"),
        (Str("path", "x", searchable=True), "cannot be searchable"),
    ],
)
def test_declaration_problems_are_named(param, problem):
    assert any(problem in p for p in param.problems())


def test_a_sound_declaration_has_no_problems():
    p = Int("n_components", 16, low=1, high=512, searchable=True, space=(2, 64), log=True)
    assert p.problems() == []
    assert p.to_dict()["space"] == [2, 64]
