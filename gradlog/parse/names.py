"""Metric spellings -> canonical names (loss, val_loss, acc, grad_norm, ...)."""

from __future__ import annotations

import re

from gradlog import lazy

# Canonical names every detector understands.
LOSS = "loss"
VAL_LOSS = "val_loss"
ACC = "acc"
VAL_ACC = "val_acc"
GRAD_NORM = "grad_norm"
PARAM_NORM = "param_norm"
LR = "lr"
LOSS_SCALE = "loss_scale"
STEP = "step"
EPOCH = "epoch"
# Names of the process that printed a line, when a line names it (WeNet's ``.. grad_norm
# 412.3 rank 2``): every rank prints the same run, and one is read.
RANKS = frozenset({"rank", "local_rank", "global_rank", "rank_id", "process_rank", "gpu_id"})
_RANKS_COUNTED = 4096  # a rank is a whole number below this

# Every spelling is given in its normalised form (see ``normalise``).
_SPELLINGS: dict[str, tuple[str, ...]] = {
    LOSS: (
        "loss",
        "train_loss",
        "training_loss",
        "loss_train",
        "train_loss_step",
        "total_loss",
        "lm_loss",
        "trl",
        "xent",
        "step_loss",
        "tr_loss",
        "train_lm_loss",
        "train_total_loss",
        "loss_total",
        "train_batch_loss",
        "batch_loss",
        "avg_loss",
        "running_loss",
        "loss_total_loss",
        "train_loss_total",
        "loss_step",  # Lightning's on_step value of a metric logged both ways
        "epoch_loss",  # Keras's TensorBoard callback: epoch_*, batch_* (train/ folder)
    ),
    VAL_LOSS: (
        "val_loss",
        "eval_loss",
        "valid_loss",
        "validation_loss",
        "vali_loss",  # Time-Series-Library (Autoformer, Informer): ``Vali Loss``
        "val_lm_loss",
        "lm_loss_value",
        "tel",
        "test_loss",
        "loss_val",
        "dev_loss",
        "val_loss_epoch",
        "valid_loss_epoch",
        "validation_lm_loss",
        "val_epoch_loss",  # Keras's TensorBoard callback, its validation/ folder
    ),
    ACC: (
        "acc",
        "accuracy",
        "train_acc",
        "train_accuracy",
        "training_accuracy",
        "acc_train",
        "train_acc_step",
        "epoch_accuracy",
        "batch_accuracy",
    ),
    VAL_ACC: (
        "val_acc",
        "val_accuracy",
        "eval_accuracy",
        "eval_acc",
        "valid_acc",
        "valid_accuracy",
        "vali_acc",
        "validation_accuracy",
        "test_acc",
        "test_accuracy",
        "val_acc_epoch",
        "val_epoch_accuracy",
    ),
    GRAD_NORM: (
        "grad_norm",
        "gnorm",
        "g_norm",  # Marian's ``gNorm``
        "gradient_norm",
        "total_norm",
        "grad_2.0_norm_total",
        "grad_norm_total",
        "grad_l2_norm",
        "grads_norm",
        "global_grad_norm",
        "grad_2_0_norm_total",
        "train_grad_norm",
    ),
    PARAM_NORM: (
        "param_norm",
        "params_norm",
        "parameter_norm",
        "weight_norm",
        "weights_norm",
        "model_norm",
    ),
    LR: (
        "lr",
        "learning_rate",
        "learningrate",
        "optim0_lr0",
        "lr_0",
        "lr_pg0",
        "base_lr",
        "train_lr",
        "epoch_learning_rate",
        # Lightning's LearningRateMonitor names the rate after the optimizer: lr-AdamW
        "lr_sgd",
        "lr_adam",
        "lr_adam_w",
        "lr_adamw",
        "lr_rm_sprop",
        "lr_rmsprop",
        "lr_adagrad",
        "lr_lion",
        "lr_adafactor",
    ),
    LOSS_SCALE: ("loss_scale", "scale", "loss_scaler", "grad_scale", "new_scale", "cur_scale"),
    STEP: (
        "step",
        "steps",
        "iter",
        "iters",
        "iteration",
        "iterations",
        "global_step",
        "steps_completed",  # Determined's report_training_metrics(steps_completed=..)
        "completed_steps",  # accelerate's no_trainer scripts
        "num_updates",
        "updates",  # pytorch-a2c-ppo-acktr's ``Updates 9210, num frames 736880``
        "update",  # Nematus' ``Epoch 1 Update 57000 Cost 61.07``: the optimizer's update
        "up",  # Marian's ``Ep. 1 : Up. 500``
        "current_steps",
        "train_step",
        "batch",
        "episode",
        "mini_batch",  # EAST's ``mini-batch is [17/41]``, CNTK's ``Minibatch[ 1- 100]``
        "minibatch",
        "it",
        "ite",  # U-2-Net's ``ite: 3``
        "itr",  # BigGAN's ``itr: 502``
        "itrs",  # DeepLabV3Plus' ``Epoch 1, Itrs 430/3000, Loss=2.61``
        # Federated learning's rounds: the global model's steps (FedML's ``Communication
        # round : 42``, easyFL's ``Round 8``, shaoxiongji's ``Round   5, Average loss``).
        "round",
        "communication_round",
        "comm_round",
        "global_round",
        "server_round",
    ),
    EPOCH: ("epoch", "ep", "epo", "train_epoch"),  # (AgentFormer's ``Epo: 14/60``)
}

# Printed keys that are never training metrics (time left, tqdm's version counter).
# A logging level before a number names none either (Determined's ``INFO: [1187]``: a pid).
IGNORED = frozenset(
    {"eta", "v_num", "eta_s", "remaining_time", "elapsed_time", "total_time"}
    | {"debug", "info", "notice", "warn", "warning", "critical", "fatal", "trace"}
)

_CANONICAL: dict[str, str] = {
    spelling: canonical for canonical, spellings in _SPELLINGS.items() for spelling in spellings
}

_STEP_WORDS = frozenset({"step", "iter", "iteration", "it", "batch"})
_INDEX_WORDS = frozenset({"i", "idx", "index", "n", "no", "num", "number", "id"})
# Words before a step's word that say which count it is, not that it is a count: the
# run's whole count beside an epoch's (``global_iter``, ``overall step``), the current
# one (mmcv's ``cur_iter``). Not ``total``: ``Total step = 720`` is a setting's count.
_SCOPE_WORDS = frozenset({"global", "overall", "cur", "curr", "current", "training"})
_SCOPED_STEPS = frozenset({"step", "iter", "iteration"})
_SEPARATORS = lazy.regex(r"[^\w.]+")
# A log-likelihood's name after a minus (GANF's ``-log_prob``): the grammar's key takes
# the minus with it, and a key reads it as ``neg_`` (``_NEGATED_LOG``).
MINUS_LOG = r"-(?=log[_ ]?(?:prob|p\b|lik))"
# That minus, not a hyphen nor a flag's dashes (``--log-interval``).
_NEGATED_LOG = lazy.regex(rf"(?<![\w.-]){MINUS_LOG}")
# The name cache is bounded in entries and in their length: a log that prints a new
# name per line fills it once, then new names are worked out each time (a few regexes).
_CACHE_KEPT = 4096
_CACHED_KEY = 200
_CAMEL = lazy.regex(r"(?<=[a-z])(?=[A-Z])")
# An abbreviation's periods: one ending a word (Marian's ``Ep. 1 : Up. 500``) and one
# between single letters (``L.r.``: lr). A period between digits (``grad_2.0_norm``) or
# words (mmengine's ``decode.loss_ce``) stays.
_ABBREVIATION = lazy.regex(
    r"(?<=[a-z])\.(?=_|$)|(?:(?<=^[a-z])|(?<=[_.][a-z]))\.(?=[a-z](?:[._]|$))"
)


# Words of Chinese (simplified and traditional), Japanese and Korean metric names, as
# the English words they stand for. Those scripts write a name's words without a blank
# between them (训练损失: training loss), so each is cut out of a key, the longest first
# (学习率 is the learning rate, 学习 alone training), and the English words are read as
# any key's. A word for "value" adds nothing to a name (损失值: the loss).
_CJK_WORDS: dict[str, str] = {
    **dict.fromkeys(("损失", "損失", "손실", "ロス", "代价", "代價"), "loss"),
    **dict.fromkeys(("训练集", "訓練集", "训练", "訓練", "学習", "학습", "훈련"), "train"),
    **dict.fromkeys(("验证集", "驗證集", "验证", "驗證", "検証", "검증", "校验"), "val"),
    **dict.fromkeys(("评估", "評估", "評価", "평가"), "eval"),
    **dict.fromkeys(("测试集", "測試集", "测试", "測試", "テスト", "테스트"), "test"),
    **dict.fromkeys(("准确率", "準確率", "准确度", "準確度", "正确率", "正確率"), "accuracy"),
    **dict.fromkeys(("正解率", "精度", "정확도"), "accuracy"),
    **dict.fromkeys(("学习率", "學習率", "学習率", "학습률"), "learning_rate"),
    **dict.fromkeys(("梯度范数", "梯度範數", "勾配ノルム", "그래디언트_노름"), "grad_norm"),
    **dict.fromkeys(("梯度", "勾配", "기울기", "그래디언트"), "grad"),
    **dict.fromkeys(("范数", "範數", "ノルム", "노름"), "norm"),
    **dict.fromkeys(("轮次", "輪次", "轮", "輪", "エポック", "에폭", "에포크"), "epoch"),
    **dict.fromkeys(("轮数", "輪數"), "epochs"),
    **dict.fromkeys(("步数", "步數", "步", "ステップ", "스텝"), "step"),
    **dict.fromkeys(("迭代次数", "迭代次數", "迭代", "イテレーション", "반복"), "iteration"),
    **dict.fromkeys(("批次", "バッチ", "배치"), "batch"),
    **dict.fromkeys(("困惑度", "パープレキシティ", "퍼플렉서티"), "perplexity"),
    **dict.fromkeys(("平均", "평균"), "avg"),
    **dict.fromkeys(("总", "總", "合計", "총"), "total"),
    **dict.fromkeys(("用时", "用時", "耗时", "耗時", "时间", "時間", "시간"), "time"),
    **dict.fromkeys(("最佳", "最好", "最优", "最優", "最良", "ベスト", "최고"), "best"),
    **dict.fromkeys(("批大小", "批量大小", "バッチサイズ", "배치_크기"), "batch_size"),
    **dict.fromkeys(("权重衰减", "權重衰減", "重み減衰"), "weight_decay"),
    **dict.fromkeys(("参数量", "參數量", "参数", "參數", "パラメータ", "파라미터"), "params"),
    **dict.fromkeys(("数", "數", "수"), "count"),
    **dict.fromkeys(("值", "値", "값"), ""),
}


# Words of metric names in German, French, Spanish, Portuguese, Italian, Dutch, Polish,
# Turkish and Russian, as the English words they stand for (``Verlust`` is the loss,
# ``Epoche`` the epoch, ``pérdida`` the loss, ``потеря`` the loss, ``масштаб`` the scale).
_WORDS: dict[str, str] = {
    **dict.fromkeys(("verlust", "perte", "pérdida", "perdida", "perda", "perdita"), "loss"),
    **dict.fromkeys(
        ("verlies", "strata", "kay\u0131p", "kayip", "потеря", "потери", "лосс"), "loss"
    ),
    **dict.fromkeys(("genauigkeit", "exactitude", "exactitud", "acurácia", "acuracia"), "accuracy"),
    **dict.fromkeys(("accuratezza", "nauwkeurigheid", "doğruluk", "точность"), "accuracy"),
    **dict.fromkeys(("epoche", "époque", "epoque", "época", "epoca", "epoka"), "epoch"),
    **dict.fromkeys(("эпоха", "эпохи"), "epoch"),
    **dict.fromkeys(("schritt", "étape", "etape", "paso", "passo", "stap", "krok"), "step"),
    **dict.fromkeys(("шаг", "шага"), "step"),
    **dict.fromkeys(("итерация", "итерации"), "iteration"),
    **dict.fromkeys(("iteración", "iteracion", "iteração", "iteracao", "iterazione"), "iteration"),
    **dict.fromkeys(("itération",), "iteration"),
    **dict.fromkeys(("lernrate",), "learning_rate"),
    **dict.fromkeys(("tasa", "taxa", "tasso", "taux"), "rate"),
    **dict.fromkeys(("aprendizaje", "aprendizado", "apprendimento", "apprentissage"), "learning"),
    **dict.fromkeys(("validierung", "validación", "validacion", "validação"), "val"),
    **dict.fromkeys(("validazione", "validatie", "walidacja", "валидация", "валидации"), "val"),
    **dict.fromkeys(("entrenamiento", "entraînement", "entrainement", "treino"), "train"),
    **dict.fromkeys(("treinamento", "addestramento", "обучение", "обучения"), "train"),
    **dict.fromkeys(("precisión", "précision"), "accuracy"),
    **dict.fromkeys(("масштаб", "escala", "scala", "échelle", "echelle", "skala"), "scale"),
    **dict.fromkeys(("gradiente", "градиент", "градиента", "градиентов"), "grad"),
    **dict.fromkeys(("norma", "norme", "норма"), "norm"),
    # Ukrainian, Turkish, Indonesian, Arabic and Persian.
    **dict.fromkeys(("втрата", "втрати", "kerugian", "الخسارة", "خسارة", "زیان"), "loss"),
    **dict.fromkeys(("епоха", "епохи", "dönem", "الحقبة", "حقبة", "دوره"), "epoch"),
    **dict.fromkeys(
        ("крок", "ad\u0131m", "adim", "langkah", "الخطوة", "خطوة", "مرحله", "گام"), "step"
    ),
    **dict.fromkeys(
        ("валідація", "валідації", "doğrulama", "validasi", "التحقق", "اعتبارسنجی"), "val"
    ),
    **dict.fromkeys(("точність", "akurasi", "الدقة", "دقة", "دقت"), "accuracy"),
    **dict.fromkeys(("градієнт", "градієнта", "градієнтів", "gradyan", "gradien"), "grad"),
    **dict.fromkeys(
        ("навчання", "eğitim", "egitim", "latih", "pelatihan", "التدريب", "آموزش"), "train"
    ),
    **dict.fromkeys(("normu",), "norm"),
}
# Names of more than one word in those languages (Vietnamese writes each syllable apart:
# ``mất mát`` is the loss), as a normalised key spells them.
_PHRASES: dict[str, str] = {
    "mất_mát": "loss",
    "kiểm_định": "val",
    "huấn_luyện": "train",
    "độ_chính_xác": "accuracy",
    "kỷ_nguyên": "epoch",
    "tốc_độ_học": "learning_rate",
    "معدل_التعلم": "learning_rate",
    "معيار_التدرج": "grad_norm",
    "نرخ_یادگیری": "learning_rate",
}


# Words that link a name's head to what qualifies it (``perte de validation``), and the
# heads and qualifiers ``_english`` puts in English order.
_LINKS = frozenset({"de", "di", "del", "della", "du", "des", "da", "do", "der", "van", "d"})
_HEADS = frozenset({"loss", "accuracy", "norm", "scale", "step", "epoch", "rate"})
_QUALIFIERS = frozenset(
    {"val", "validation", "train", "training", "grad", "gradient", "test", "eval", "learning"}
    | {"loss"}  # (a loss's scale: ``escala da perda``)
)

# The words of ``_CJK_WORDS``, the longest first.
_CJK_WORD = lazy.regex("|".join(sorted(map(re.escape, _CJK_WORDS), key=len, reverse=True)))


def normalise(key: str) -> str:
    """Snake-case a printed key: ``'Train Loss'`` -> ``train_loss``, ``lm loss`` -> ``lm_loss``,
    ``验证损失`` -> ``val_loss``."""
    key = key.strip().strip("'\"").strip()
    if "-log" in key:  # (GANF's ``train -log_prob``: the negative log-likelihood)
        key = _NEGATED_LOG.sub("neg_", key)
    if not key.isascii():
        key = _CJK_WORD.sub(lambda found: f" {_CJK_WORDS[found[0]]} ", key)
    key = _CAMEL.sub("_", key)
    key = _SEPARATORS.sub("_", key.lower()).strip("_")
    if "." in key:
        key = _ABBREVIATION.sub("", key)
    if not key.isascii():
        for phrase, word in _PHRASES.items():
            if phrase in key:
                key = key.replace(phrase, word)
    if _CONSONANTS.search(key):
        key = "_".join(_SHORTENED.get(word, word) for word in key.split("_"))
    if not _WORDS.keys().isdisjoint(words := key.split("_")):
        key = _english([_WORDS.get(word, word) for word in words if word not in _LINKS])
    return key


# Words printed without their vowels (LeRobot's ``grdn`` and ``epch``, ``trn_lss``,
# ``itr``): a word of three or more letters, none a vowel after its first, that is one
# of ``_SHORTENED``'s words with its vowels after the first letter taken out; a pair of
# words too, the second whole or by its initial (``grd_nrm``, ``grdn``). Only the whole
# consonants of a word: ``sts`` (semantic textual similarity) is no ``steps``.
_CONSONANTS = lazy.regex(r"(?:^|_)[a-z][b-df-hj-np-tv-z]{2,}(?:_|$)")
_VOWELS = frozenset("aeiou")


def _consonants(word: str) -> str:
    return word[0] + "".join(c for c in word[1:] if c not in _VOWELS)


_SHORTENED: dict[str, str] = {
    _consonants(word): word
    for word in (
        *("loss", "grad", "norm", "epoch", "epochs", "step", "steps", "iter", "batch"),
        *("train", "valid", "test", "scale", "param", "total"),
    )
}
_SHORTENED.update(
    {
        _consonants(first) + end: f"{first}_{second}"
        for first, second in (("grad", "norm"), ("param", "norm"))
        for end in (_consonants(second), second[0])
    }
)


def _english(words: list[str]) -> str:
    """Translated words in English order: a name whose head comes first, as those
    languages put it (``потеря валидации``, ``perte de validation``: loss of validation),
    with its head last (``val_loss``)."""
    if len(words) > 1 and words[0] in _HEADS and _QUALIFIERS.issuperset(words[1:]):
        words = [*words[1:], words[0]]
    return "_".join(words)


class NameTable:
    """Maps printed keys to canonical names, with user additions taking precedence."""

    def __init__(self, extra: dict[str, str] | None = None) -> None:
        """``extra`` maps printed spellings to canonical names (``{"my_loss": "loss"}``)."""
        self._table = dict(_CANONICAL)
        self._extra = {normalise(spelling) for spelling in extra or {}}
        for spelling, canonical in (extra or {}).items():
            self._table[normalise(spelling)] = canonical
        self._cache: dict[str, str] = {}

    def rank(self, snake: str) -> int:
        """How plainly a normalised key spells its canonical name, lowest first: the
        user's own names, then the table's spellings in their order (``loss`` before
        ``batch_loss``), then names the table does not list."""
        if snake in self._extra:
            return -1
        canonical = self._table.get(snake)
        spellings = _SPELLINGS.get(canonical, ()) if canonical is not None else ()
        return spellings.index(snake) if snake in spellings else len(_CANONICAL)

    def known(self, key: str) -> bool:
        """Whether ``key`` is a spelling of a canonical metric."""
        snake = normalise(key)
        return snake in self._table or _indexed_step(snake) is not None

    def canonical(self, key: str) -> str:
        """The canonical name of ``key``; unknown keys keep their snake_case form."""
        found = self._cache.get(key)
        if found is None:
            snake = normalise(key)
            found = self._table.get(snake) or _indexed_step(snake) or snake
            if len(self._cache) < _CACHE_KEPT and len(key) <= _CACHED_KEY:
                self._cache[key] = found
        return found


def _indexed_step(snake: str) -> str | None:
    """``step`` for a step's word followed by an index's (``step_i``, ``iter_num``,
    ``step_idx``, ``batch_idx``, ``Batch id``): the counter itself, where the index word
    before it is a count of steps (``num_steps``); and for a step's word after a scope's
    (``global_iter``, ``cur_iter``)."""
    first, _, rest = snake.partition("_")
    if first in _STEP_WORDS and rest and set(rest.split("_")) <= _INDEX_WORDS:
        return STEP
    if first in _SCOPE_WORDS and rest in _SCOPED_STEPS:
        return STEP
    return None


def parse_mapping(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Read ``canonical=printed`` pairs (as given to ``--metric``) into printed -> canonical."""
    mapping: dict[str, str] = {}
    for item in items:
        canonical, sep, spelling = item.partition("=")
        if not sep or not canonical.strip() or not spelling.strip():
            raise ValueError(f"--metric expects CANONICAL=PRINTED_NAME, got {item!r}")
        mapping[spelling.strip()] = normalise(canonical)
    return mapping


def rank_in(metrics: dict[str, float]) -> int | None:
    """The rank a line's ``metrics`` name (``RANKS``), taken out of them; None when they
    name none (or a value no rank has, which stays a series)."""
    for name in RANKS.intersection(metrics):
        value = metrics[name]
        if value.is_integer() and 0 <= value < _RANKS_COUNTED:
            del metrics[name]
            return int(value)
    return None
