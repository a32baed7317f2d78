# ruff: noqa
"""Shared helpers: v3/v4 encoders, decoding term ids back to strings (mmh3 of candidate substrings)."""
import mmh3, re
from app.domain.text import nfkc
from app.encoders.qdrant_bm25 import load, japanese_blocks
from app.settings import EncoderSettings
V3 = load("bm25-multilingual-numbers-en", EncoderSettings())
V4 = load("bm25-multilingual-scripts-en", EncoderSettings())

def cands(text):
    t = nfkc(text)
    out = {}
    for s in {t, t.lower()}:
        n = len(s)
        for i in range(n):
            for j in range(i + 1, min(n, i + 14) + 1):
                sub = s[i:j]
                out[abs(mmh3.hash(sub))] = sub
    return out

def decode(ids, text):
    c = cands(text)
    return sorted(c.get(i, f"#{i}") for i in ids)

def doc_terms(enc, doc):
    return set(enc.embed([nfkc(doc)])[0].indices)

def q_terms(enc, q):
    return set(enc.embed_query(nfkc(q)).indices)

def match(enc, doc, q):
    d, qq = doc_terms(enc, doc), q_terms(enc, q)
    return len(qq & d), len(qq)

def same_vec(doc):
    a, b = V3.embed([nfkc(doc)])[0], V4.embed([nfkc(doc)])[0]
    return a == b
