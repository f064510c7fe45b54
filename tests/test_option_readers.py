"""How option values are read (fm2s.option_readers), through the options that use each reader."""

from __future__ import annotations

import numpy as np
import pytest

from fm2s.options import OptionError, validate_options


@pytest.mark.parametrize("seed", [2**53 + 1, 2**60 + 1, 2**63 - 1])
def test_a_large_seed_is_read_exactly_from_python_and_from_text(seed):
    # read through a float: 2**60 + 1 ran (and was recorded) as 2**60, and 2**63 - 1, which the
    # message says is allowed, was refused as 2**63
    assert validate_options(seed=seed).seed == seed
    assert validate_options(seed=str(seed)).seed == seed
    assert validate_options(seed=f" {seed} ").seed == seed
    assert validate_options(seed=np.int64(seed)).seed == seed
    with pytest.raises(OptionError, match="seed must be between"):
        validate_options(seed=str(2**63))


@pytest.mark.parametrize("text", ["1.2346E10", "1e3", " 2E5 "])
def test_a_seed_in_exponent_notation_is_refused(text):
    # ImageJ's macro language writes "seed="+12345678901 as "seed=1.2346E10" (any whole number
    # above 2**31 - 1, rounded to 5 digits): it ran, and was recorded, as seed 12346000000
    with pytest.raises(OptionError, match=r"seed must be written in digits.*d2s\(seed, 0\)"):
        validate_options(seed=text)
    assert validate_options(seed=1e3).seed == 1000  # a Python float is the number itself
