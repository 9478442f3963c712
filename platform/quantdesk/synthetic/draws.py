"""Random draws that depend only on the PCG64 bit stream and closed-form transforms.

NumPy promises that a bit generator's raw stream never changes, but not that
its distributions (normal, Student-t, geometric) keep their algorithms across
versions. The sample markets therefore take raw 64-bit words, turn them into
uniforms themselves and shape those with closed-form transforms, each using
a fixed count of words. That fixed count is also what lets any stretch of a
stream be drawn on its own: word ``n`` is reached by advancing the generator.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_EXPONENT_OF_ONE = np.uint64(0x3FF0000000000000)
_MANTISSA_SHIFT = np.uint64(12)
_JUST_BELOW_ONE = 1.0 - 2.0**-53


def stream_uniforms(seed: int, position: int, count: int) -> FloatArray:
    """Uniform draws strictly inside (0, 1), from word ``position`` of a stream on.

    Parameters
    ----------
    seed
        The stream's seed, below ``2 ** 128``.
    position
        How many words of the stream to skip.
    count
        How many uniforms to return; each uses one 64-bit word.

    Returns
    -------
    numpy.ndarray
        ``count`` float64 values, odd multiples of ``2 ** -53``.
    """
    bit_generator = np.random.PCG64(seed)
    bit_generator.advance(position)
    raw = bit_generator.random_raw(count)
    # The top 52 bits become the mantissa of a double in [1, 2); subtracting
    # just under one maps it onto the odd multiples of 2**-53 in (0, 1).
    raw >>= _MANTISSA_SHIFT
    raw |= _EXPONENT_OF_ONE
    values = raw.view(np.float64)
    values -= _JUST_BELOW_ONE
    return values


def normal_pair(
    first: FloatArray, second: FloatArray, *, square_second: bool = False
) -> tuple[FloatArray, FloatArray]:
    """Two independent standard normals from two independent uniforms (Box-Muller).

    Parameters
    ----------
    first, second
        Uniforms in (0, 1) of the same shape.
    square_second
        Return the second normal squared, which is cheaper.

    Returns
    -------
    tuple of numpy.ndarray
        The two normals (the second squared when asked).
    """
    radius_square = np.log(first)
    radius_square *= -2.0
    cosine = np.cos((2.0 * np.pi) * second)
    # The sine follows from the cosine, its sign from the half of the circle.
    sine_square = cosine * cosine
    np.subtract(1.0, sine_square, out=sine_square)
    if square_second:
        sine_square *= radius_square
        radius = np.sqrt(radius_square)
        radius *= cosine
        return radius, sine_square
    radius = np.sqrt(radius_square)
    sine = np.sqrt(sine_square)
    np.copysign(sine, 0.5 - second, out=sine)
    sine *= radius
    radius *= cosine
    return radius, sine


def unit_student_t(
    normal_first: FloatArray,
    normal_second: FloatArray,
    chi_first: FloatArray,
    chi_second: FloatArray,
) -> FloatArray:
    """Student-t draws with five degrees of freedom, scaled to unit variance.

    ``Z / sqrt(X / 5)`` is Student-t with five degrees of freedom when ``X`` is
    chi-square with five: here ``-2 log(U1 U2)`` (chi-square with four) plus
    a squared normal. Its variance is 5/3, hence ``Z * sqrt(3 / X)``.

    Parameters
    ----------
    normal_first, normal_second
        Uniforms for a Box-Muller pair.
    chi_first, chi_second
        Uniforms for the chi-square with four degrees of freedom.

    Returns
    -------
    numpy.ndarray
        Fat-tailed draws with mean 0 and variance 1.
    """
    normal, chi_square = normal_pair(normal_first, normal_second, square_second=True)
    chi_square -= 2.0 * np.log(chi_first * chi_second)
    return np.asarray(normal * np.sqrt(3.0 / chi_square), dtype=np.float64)


def geometric(values: FloatArray, mean: float) -> npt.NDArray[np.int64]:
    """Geometric draws on 1, 2, 3, ... with the given mean, by inverting the CDF.

    Parameters
    ----------
    values
        Uniforms in (0, 1).
    mean
        The mean, at least 1.

    Returns
    -------
    numpy.ndarray
        Positive integers.
    """
    if mean <= 1.0:
        return np.ones(len(values), dtype=np.int64)
    counts = np.ceil(np.log(values) / math.log1p(-1.0 / mean))
    return np.maximum(counts, 1.0).astype(np.int64)
