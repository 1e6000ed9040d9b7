"""Key material for the certs tests that ``cryptography`` will not generate.

A plain module, not ``conftest.py``: tests elsewhere import names from the top-level ``conftest``,
and a second ``conftest`` module in this folder would shadow it in a full run.
"""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives.asymmetric import rsa


def _probable_prime(bits: int) -> int:
    """A random ``bits``-bit probable prime (Miller-Rabin, 40 rounds) with ``p - 1`` coprime to 65537."""
    while True:
        candidate = secrets.randbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if candidate % 65537 != 1 and _miller_rabin(candidate):
            return candidate


def _miller_rabin(n: int, rounds: int = 40) -> bool:
    for small in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % small == 0:
            return n == small
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def weak_rsa_key(bits: int) -> rsa.RSAPrivateKey:
    """A real RSA key of any size, including sizes ``generate_private_key`` refuses (it stops at 1024).

    Built from two fresh primes, so the certificates made with it are genuine: a 512-bit key is
    exactly what a careless ``openssl genrsa 512`` would give the controller.
    """
    if bits >= 1024:
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    e = 65537
    while True:
        p, q = _probable_prime(bits // 2), _probable_prime(bits // 2)
        if p != q and (p * q).bit_length() == bits:
            break
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p, q=q, d=d, dmp1=d % (p - 1), dmq1=d % (q - 1), iqmp=pow(q, -1, p),
        public_numbers=rsa.RSAPublicNumbers(e, p * q),
    )
    return numbers.private_key()
