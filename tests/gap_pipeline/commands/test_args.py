"""gap_pipeline/commands/args.py: number types for command-line flags (a bad value is a one-line usage error
naming the flag, exit status 2) and the subcommands whose first argument is a built corpus folder."""
from __future__ import annotations

import argparse

import pytest

from gap_pipeline.cli import build_parser
from gap_pipeline.commands.args import (corpus_command, non_negative_float, non_negative_int, positive_float,
                                        positive_int)


def _parser(kind) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gap test")
    parser.add_argument("--n", type=kind)
    return parser


def _usage_error(parser: argparse.ArgumentParser, argv: list[str], capsys) -> str:
    """The last stderr line of a refused command line (argparse prints usage above it)."""
    with pytest.raises(SystemExit) as info:
        parser.parse_args(argv)
    assert info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("kind, text, value", [
    (positive_int, "1", 1), (positive_int, " 42 ", 42), (positive_int, "99999999999999999999", 99999999999999999999),
    (non_negative_int, "0", 0), (non_negative_int, "+7", 7),
    (positive_float, "0.5", 0.5), (positive_float, "1e-300", 1e-300), (positive_float, "3", 3.0),
    (non_negative_float, "0", 0.0), (non_negative_float, "2.5", 2.5),
])
def test_good_values_parse_to_numbers_of_their_kind(kind, text, value):
    parsed = kind(text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("kind, text, message", [
    (positive_int, "0", "must be >= 1, got 0"),
    (positive_int, "-3", "must be >= 1, got -3"),
    (non_negative_int, "-1", "must be >= 0, got -1"),
    (positive_int, "1.5", "expected an integer, got '1.5'"),
    (positive_int, "1e3", "expected an integer, got '1e3'"),
    (non_negative_int, "", "expected an integer, got ''"),
    (positive_int, "ten", "expected an integer, got 'ten'"),
    (positive_float, "0", "must be > 0, got 0"),
    (positive_float, "-0.0", "must be > 0, got -0.0"),
    (positive_float, "1e-400", "must be > 0, got 1e-400"),  # underflows to 0
    (positive_float, "-2", "must be >= 0.0, got -2"),
    (non_negative_float, "-0.001", "must be >= 0.0, got -0.001"),
    (positive_float, "nan", "must be a finite number, got 'nan'"),
    (non_negative_float, "inf", "must be a finite number, got 'inf'"),
    (non_negative_float, "1e400", "must be a finite number, got '1e400'"),  # overflows to inf
    (non_negative_float, "-inf", "must be a finite number, got '-inf'"),
    (positive_float, "½", "expected a number, got '½'"),
    (positive_float, "1,5", "expected a number, got '1,5'"),
])
def test_bad_values_are_refused_saying_why(kind, text, message):
    with pytest.raises(argparse.ArgumentTypeError) as info:
        kind(text)
    assert str(info.value) == message


def test_argparse_names_the_flag_in_one_usage_line(capsys):
    assert _usage_error(_parser(positive_int), ["--n", "0"], capsys) == (
        "gap test: error: argument --n: must be >= 1, got 0")
    assert _usage_error(_parser(positive_float), ["--n=nan"], capsys) == (
        "gap test: error: argument --n: must be a finite number, got 'nan'")
    assert _parser(non_negative_float).parse_args(["--n", "0"]).n == 0.0


@pytest.mark.parametrize("argv, flag", [
    (["build", "--workers", "0"], "--workers"),
    (["scrape", "--jobs", "two"], "--jobs"),
    (["train", "--steps", "-5"], "--steps"),
])
def test_the_gap_commands_refuse_bad_numbers_before_running(argv, flag, capsys):
    line = _usage_error(build_parser(), argv, capsys)
    assert line.startswith(f"gap {argv[0]}: error: argument {flag}: ")


def test_corpus_commands_take_the_corpus_folder_first(capsys):
    parser = argparse.ArgumentParser(prog="gap")
    sub = parser.add_subparsers(dest="command")
    p = corpus_command(sub, "report", help="write the report", description="Write OUT/report/report.md.")
    p.add_argument("--force", action="store_true")
    args = parser.parse_args(["report", "out/corpus", "--force"])
    assert (args.command, args.out, args.force) == ("report", "out/corpus", True)
    assert p.description == "Write OUT/report/report.md."
    assert "the corpus folder written by `gap build`" in p.format_help()
    other = corpus_command(sub, "verify", help="h", description="d", out_help="a corpus folder or gs:// URL")
    assert "a corpus folder or gs:// URL" in other.format_help()
    assert _usage_error(parser, ["report"], capsys) == "gap report: error: the following arguments are required: out"
