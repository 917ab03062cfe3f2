#!/usr/bin/python3
"""The place/seal handshake (docs/PROTOCOL.md) computed with python3-cryptography,
independently of src/crypto, for fixed keys, ephemerals and timestamp.

Prints one "name hex" line each: the initiation, the response, the two
transport keys and the final transcript hash.  test_handshake_kat.c drives
src/crypto with the same values and compares the bytes.
"""
import hashlib
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# The fixed inputs (the C test uses the same).
S_I = bytes(range(0x01, 0x21))  # initiator static private key
S_R = bytes(range(0x21, 0x41))  # responder static private key
E_I = bytes(range(0x41, 0x61))  # initiator ephemeral private key
E_R = bytes(range(0x61, 0x81))  # responder ephemeral private key
TIMESTAMP = bytes.fromhex("400000006553f10a075bcd15")  # TAI64N: 1700000000 s + 10, 123456789 ns
PROLOGUE = b"zc-place/1"
NAME = b"Noise_IK_25519_AEAD_SHA256 zc/1"
CIPHER_AES256GCM = 1


def pub(priv):
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)


def dh(priv, public):
    return X25519PrivateKey.from_private_bytes(priv).exchange(
        X25519PublicKey.from_public_bytes(public))


def hkdf64(salt, ikm):
    return HKDF(algorithm=hashes.SHA256(), length=64, salt=salt, info=b"").derive(ikm)


class Symmetric:
    def __init__(self):
        self.h = hashlib.sha256(NAME).digest()
        self.ck = self.h
        self.k = None

    def mix_hash(self, data):
        self.h = hashlib.sha256(self.h + data).digest()

    def mix_key(self, ikm):
        out = hkdf64(self.ck, ikm)
        self.ck, self.k = out[:32], out[32:]

    def encrypt(self, plain):
        # Each k seals one thing: nonce = salt 0 (le32) || counter 0 (le64).
        out = AESGCM(self.k).encrypt(bytes(12), plain, self.h)
        self.mix_hash(out)
        return out


def main():
    s_i_pub, s_r_pub, e_i_pub, e_r_pub = pub(S_I), pub(S_R), pub(E_I), pub(E_R)
    st = Symmetric()
    st.mix_hash(PROLOGUE)
    st.mix_hash(s_r_pub)

    # -> e, es, s, ss, payload = timestamp
    header = bytes([1, CIPHER_AES256GCM, 0, 0])
    st.mix_hash(header)
    st.mix_hash(e_i_pub)
    st.mix_key(dh(E_I, s_r_pub))
    enc_s = st.encrypt(s_i_pub)
    st.mix_key(dh(S_I, s_r_pub))
    enc_ts = st.encrypt(TIMESTAMP)
    initiation = header + e_i_pub + enc_s + enc_ts
    assert len(initiation) == 112

    # <- e, ee, se
    header = bytes([2, CIPHER_AES256GCM, 0, 0])
    st.mix_hash(header)
    st.mix_hash(e_r_pub)
    st.mix_key(dh(E_R, e_i_pub))
    st.mix_key(dh(E_R, s_i_pub))
    response = header + e_r_pub + st.encrypt(b"")
    assert len(response) == 52

    keys = hkdf64(st.ck, b"")
    for name, value in (("initiation", initiation), ("response", response),
                        ("initiator_to_responder", keys[:32]),
                        ("responder_to_initiator", keys[32:]), ("transcript", st.h)):
        print(name, value.hex())
    return 0


if __name__ == "__main__":
    sys.exit(main())
