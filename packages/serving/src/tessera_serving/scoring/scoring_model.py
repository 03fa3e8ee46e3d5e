"""A model version's boosters as scoring sees them, and the counts a scoring pass keeps."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tessera_serving.backends import Predictor
from tessera_serving.errors import ScoringError
from tessera_serving.scoring import guard


class ScoringModel:
    """A model version's boosters (``ModelCell``) plus how to load one; loads each at most once."""

    def __init__(
        self, cells: Sequence[guard.ModelCell], load: Callable[[guard.ModelCell], Predictor]
    ) -> None:
        if not cells:
            raise ScoringError("a scoring model needs at least one booster")
        self.cells = tuple(cells)
        self._load = load
        self._loaded: dict[int, Predictor] = {}

    def predictor(self, cell: guard.ModelCell) -> Predictor:
        """The loaded booster for ``cell`` (loaded on first use only: refused ones never are)."""
        if cell.model_id not in self._loaded:
            predictor = self._load(cell)
            if tuple(predictor.feature_names) != cell.feature_names:
                raise ScoringError(
                    f"booster {cell.ref}: its feature names {list(predictor.feature_names)} "
                    f"differ from the registry's {list(cell.feature_names)}; "
                    "run `tessera-serve verify`"
                )
            self._loaded[cell.model_id] = predictor
        return self._loaded[cell.model_id]


@dataclass
class ScoreStats:
    """Counts for a job row and the closing events."""

    rows: int = 0
    by_source: Counter[str] = field(default_factory=Counter)
    scored: Counter[int] = field(default_factory=Counter)  # model_id -> reranked rows
    demoted: Counter[int] = field(default_factory=Counter)  # model_id -> rows a query-mate blocked
    uncovered: Counter[str] = field(default_factory=Counter)  # category -> rows with no booster
