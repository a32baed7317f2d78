"""A small real corpus: documents whose sides differ, so each space has something to find."""

from __future__ import annotations

from typing import Any

DOCS: list[dict[str, Any]] = [
    {"id": "astro-1", "title": "Exoplanet atmospheres observed by transit spectroscopy",
     "body": "When a planet passes in front of its star, starlight filters through the planet's atmosphere. "
             "Absorption features reveal water vapour, methane and carbon dioxide. The James Webb Space Telescope "
             "measured such spectra for hot Jupiters. Clouds and hazes flatten the observed features.",
     "metadata": {"topic": "astronomy", "year": 2023}},
    {"id": "astro-2", "title": "Dark matter halos and galaxy rotation curves",
     "body": "Stars in the outer parts of spiral galaxies orbit faster than visible mass predicts. "
             "A halo of dark matter explains the flat rotation curves. Alternatives such as modified Newtonian "
             "dynamics change the law of gravity instead.",
     "metadata": {"topic": "astronomy", "year": 2019}},
    {"id": "bio-1", "title": "CRISPR-Cas9 gene editing in human cells",
     "body": "The Cas9 nuclease is guided by a short RNA to a matching DNA sequence, where it cuts both strands. "
             "Cells repair the break, which can knock out a gene or insert new sequence. Off-target cuts remain "
             "a safety concern for therapies.",
     "entities": ["CRISPR", "Cas9", "guide RNA"],
     "metadata": {"topic": "biology", "year": 2021}},
    {"id": "bio-2", "title": "Gut microbiome and the immune system",
     "body": "Bacteria living in the intestine train immune cells and produce short-chain fatty acids. "
             "Antibiotics disturb this community. Changes in the microbiome are linked to allergies and "
             "inflammatory bowel disease.",
     "metadata": {"topic": "biology", "year": 2020}},
    {"id": "bio-3", "title": "Interleukin-6 signalling in inflammation",
     "body": "IL-6 is a cytokine released during infection and injury. It drives fever and the acute phase "
             "response in the liver. Blocking the IL-6 receptor with tocilizumab treats rheumatoid arthritis.",
     "summary": "IL-6 drives inflammation; tocilizumab blocks its receptor.",
     "metadata": {"topic": "biology", "year": 2018}},
    {"id": "cs-1", "title": "Vector databases for semantic search",
     "body": "Embeddings map text to points in a high-dimensional space where nearby points mean similar things. "
             "Approximate nearest neighbour indexes such as HNSW make search fast over millions of vectors. "
             "Hybrid search combines dense vectors with sparse keyword scores.",
     "metadata": {"topic": "computing", "year": 2024}},
    {"id": "cs-2", "title": "Consensus in distributed systems with Raft",
     "body": "Raft elects a leader that replicates a log to followers. A entry is committed once a majority "
             "stores it. Leader election uses randomized timeouts to avoid split votes.",
     "metadata": {"topic": "computing", "year": 2014}},
    {"id": "cook-1", "title": "Sourdough bread baking",
     "body": "A sourdough starter is a culture of wild yeast and lactic acid bacteria. Long fermentation gives "
             "the bread its sour taste and open crumb. Bake in a hot Dutch oven for a crisp crust.",
     "metadata": {"topic": "cooking", "year": 2022}},
    {"id": "cook-2", "title": "Fermenting vegetables at home",
     "body": "Cabbage packed in salt brine ferments into sauerkraut as lactobacilli turn sugars into lactic acid. "
             "Keep the vegetables under the brine to stop mould. Kimchi adds chilli, garlic and fish sauce.",
     "metadata": {"topic": "cooking", "year": 2021}},
    {"id": "hist-1", "title": "The printing press and the Reformation",
     "body": "Gutenberg's movable type made books cheap. Pamphlets spread Luther's theses across Europe within "
             "weeks. Literacy rose as printed vernacular bibles became common.",
     "metadata": {"topic": "history", "year": 2010}},
    {"id": "long-1", "title": "Field notes",
     "body": " ".join(["The weather was mild and the survey team walked the ridge counting birds."] * 40)
             + " Near the end of the transect, the team found a rare orchid, Cypripedium calceolus,"
             " in limestone grassland.",
     "metadata": {"topic": "ecology", "year": 2017}},
]


def documents(ids: list[str] | None = None) -> list[dict[str, Any]]:
    return [d for d in DOCS if ids is None or d["id"] in ids]
