"""The one home of the words the reports use: glossary definitions and plain names of metrics.

:data:`TERMS` defines every technical term a report may contain; :func:`terms_used` finds
the ones a rendered report actually contains, so each report's glossary lists only those
(a definition that names another term pulls that one in too). :func:`metric_words` and
:func:`split_words` give a metric and a split in words for the executive summary, which must
read without the glossary.

Rendering only: nothing here computes a metric.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

__all__ = ["Term", "TERMS", "terms_used", "visible_text", "metric_words", "split_words", "check_words",
           "QUESTIONS"]


@dataclass(frozen=True)
class Term:
    """One glossary entry: the term as shown, its definition, and how to spot it in text.

    ``pattern`` is a regular expression (matched case-sensitively when ``case`` is true, as
    for acronyms like "AUC"; case-insensitively otherwise).

    Parameters
    ----------
    term : str
        The term as shown.
    definition : str
        What it means, in words.
    pattern : str
        Regular expression that finds the term in text.
    case : bool
        Match case-sensitively.
    """

    term: str
    definition: str
    pattern: str
    case: bool = False

    def found_in(self, text: str) -> bool:
        """Whether the term occurs in ``text``.

        Parameters
        ----------
        text : str
            Visible text of a rendering.

        Returns
        -------
        bool

        Examples
        --------
        >>> Term("AUC", "...", r"\\bAUCs?\\b", case=True).found_in("its AUC is 0.5")
        True
        """
        return re.search(self.pattern, text, 0 if self.case else re.IGNORECASE) is not None


def _t(term: str, definition: str, pattern: str | None = None, case: bool = False) -> Term:
    return Term(term, definition, pattern or r"\b" + re.escape(term) + r"s?\b", case)


#: Every term a report may use, in the order the glossary lists them.
TERMS: tuple[Term, ...] = (
    _t("original model", "The model as it was before the deletion request: trained with the data that must be "
       "forgotten.", r"\boriginal\b"),
    _t("unlearned model", "The model that is supposed to have forgotten the data; the one this audit examines.",
       r"\bunlearned\b"),
    _t("U, R, O", "Short names in the detailed tables: U is the unlearned model, R the retrained models, O the "
       "original. U − R is the unlearned model's value minus the retrained models' average; R–R compares retrained "
       "models with each other.", r"(?<![\w-])[URO](?![\w-])|\b[URO] ?[-−–>]+ ?[URO]\b", case=True),
    _t("leave-one-out", "Scoring each retrained model against the others only (as if it were the candidate); "
       "the others then play the non-member (OUT) models of an attack.", r"\bleave-one-out\b|\bOUT\b",
       case=True),
    _t("retrained model", "A model trained from scratch on the kept data only, never on the forgotten rows: the "
       "gold standard an unlearned model should be indistinguishable from. Also called a reference.",
       r"\bretrain(?:ed|s|ing)?\b|\breferences?\b"),
    _t("forget set", "The rows the deletion request covers (the forget split).", r"\bforget(?:ting)? (?:set|split|rows?)\b|\bforgotten rows?\b"),
    _t("retain split", "The training rows that stay; retrained models are trained on them.", r"\bretain(?:ed)? (?:split|rows?|set)\b|\bkept (?:training )?rows\b"),
    _t("test split", "Rows no model was trained on (held out); they show how a model behaves on new data.",
       r"\btest (?:split|rows?)\b|\bheld-out\b|\bnever-seen\b"),
    _t("membership inference", "An attack that tries to tell, from a model's outputs, whether a row was in its "
       "training data. After good unlearning it should do no better on the forgotten rows than it does against "
       "a retrained model.", r"\bmembership\b"),
    _t("unlearning inference", "A differencing attack: it compares the original's outputs with the unlearned "
       "model's to find which rows were removed. It should do no better than comparing the original with a "
       "retrained model.", r"\bunlearning inference\b|\bdifferencing\b"),
    _t("AUC", "Area under the ROC curve: the chance that an attack ranks a random member above a random "
       "non-member. 0.5 means guessing, 1 means certain.", r"\bAUCs?\b|\bauc\[", case=True),
    _t("ROC curve", "Receiver operating characteristic: an attack's true-positive rate against its "
       "false-positive rate as its threshold moves.", r"\bROC\b", case=True),
    _t("TPR at FPR", "True-positive rate at a fixed false-positive rate, e.g. at 1 % FPR: the share of "
       "forgotten rows an attack finds when it may wrongly accuse only 1 % of rows it never saw. It measures "
       "the confident guesses that matter for privacy.", r"\btpr@|\bTPR\b", case=True),
    _t("LiRA", "Likelihood-ratio attack (Carlini et al. 2022): a membership attack that compares a row's loss "
       "with how retrained (or shadow) models score it.", r"\blira", case=False),
    _t("RMIA", "Relative membership inference attack (Zarifzadeh et al. 2024).", r"\brmia\b"),
    _t("entropy attack", "A membership attack that scores a row by how uncertain the model's prediction is "
       "(its entropy); the modified entropy attack (Song and Mittal 2021) also uses the true label.",
       r"\bentropy\b"),
    _t("loss", "How wrong a model's prediction is for a row (cross-entropy: small when the model gives the true "
       "label a high probability). Models have lower loss on rows they trained on.", r"\bloss(?:es)?\b"),
    _t("loss gap", "The average loss on never-seen rows minus that on the forgotten rows: how much better the "
       "model fits the forgotten rows than new ones.", r"\bloss_gap\b|\bloss gap\b"),
    _t("SISA", "Sharded, isolated, sliced and aggregated training (Bourtoule et al. 2021): models trained on "
       "separate shards of the data, so forgetting a row means retraining only its shard.", r"\bSISA\b",
       case=True),
    _t("language model", "A model that predicts the next token (word or word piece) of a text from the tokens "
       "before it; here it is audited on whole texts instead of table rows.", r"\blanguage[- ]models?\b"),
    _t("token", "The unit a language model reads and predicts: a word or a piece of a word.", r"\btokens?\b"),
    _t("sequence membership", "Membership inference on whole texts: a score per text (LOSS, zlib, Min-K%, "
       "Min-K%++) ranks the forgotten texts against texts no model saw. An AUC of 0.7 means that for a random "
       "forgotten text and a random new text the attack scores the forgotten one higher 70 % of the time. What "
       "matters is not 0.5 but whether the unlearned model's AUC matches what retrained models show.",
       r"\bsequence membership\b|\bsequence_membership\b|\bper-text\b"),
    _t("zlib score", "A text's average log-probability divided by its zlib-compressed length (Carlini et al. "
       "2021): it discounts texts that are easy to predict only because they are repetitive.", r"\bzlib\b"),
    _t("Min-K%", "Min-K% Prob (Shi et al. 2024): the average log-probability of a text's least likely tokens "
       "(the lowest 20 % by default); a text the model trained on has few very unlikely tokens.",
       r"\bmin_k\b|Min-K%(?!\+)"),
    _t("Min-K%++", "Min-K%++ (Zhang et al. 2024): like Min-K%, but each token's log-probability is first "
       "compared with what the model expects at that position (minus the mean, divided by the spread of its "
       "next-token distribution).", r"\bmin_k_plus_plus\b|Min-K%\+\+"),
    _t("privleak", "The privacy-leakage score of the MUSE benchmark: (AUC of the unlearned model - AUC of "
       "retrained models) / AUC of retrained models x 100. 0 means like a retrain, but it is a point score "
       "without a noise floor: beside it, each retrained model's own privleak against the others shows how far "
       "genuine retrains spread.", r"\bprivleak\b"),
    _t("perplexity", "How surprised a language model is by texts: the exponential of its average negative "
       "log-likelihood per token (1 = every token predicted with certainty; lower is better).",
       r"\bperplexit(?:y|ies)\b"),
    _t("NLL", "Negative log-likelihood: minus the log-probability a model gives the actual next token, in "
       "nats; mean_nll is its average per token (the log of the perplexity).", r"\bNLL\b|\bmean_nll\b",
       case=True),
    _t("log-probability", "The natural logarithm of a probability (0 = certain; more negative = less likely), "
       "in nats.", r"\blog-probabilit(?:y|ies)\b|\blog p\b|\bnats?\b"),
    _t("token KL", "token_kl: the KL divergence between two language models' next-token distributions, "
       "averaged over the positions of a text (nats per token); compared with how far retrained models are "
       "from each other.", r"\btoken_kl\b|\btoken KL\b|KL\(R\s*\|\|\s*U\)"),
    _t("top-1 disagreement", "The share of positions in the texts where two language models' most likely next "
       "token differs.", r"\btop1_disagreement\b|\btop-1\b"),
    _t("output divergence", "How different the unlearned model's predicted probabilities are from the retrained "
       "models', compared with how different retrained models are from each other (KL and JS divergence, total "
       "variation, disagreement).", r"\bdivergences?\b"),
    _t("KL divergence", "Kullback-Leibler divergence: how different two models' predicted probabilities are "
       "(0 = identical).", r"\bKL\b|\bkl\b", case=True),
    _t("JS divergence", "Jensen-Shannon divergence: a symmetric, bounded version of the KL divergence.",
       r"\bJS\b|\bjs\b", case=True),
    _t("total variation", "The largest difference two models give to the probability of any outcome (TV).",
       r"\btotal variation\b|\btv\b"),
    _t("disagreement", "The share of rows where two models predict different labels.", r"\bdisagreement\b"),
    _t("parameter distance", "How far the unlearned model's weights are from the retrained models' weights (L2 "
       "distance, cosine); comparable only when the architectures match.", r"\bparameter\b|\bl2\b|\bcosine\b"),
    _t("accuracy", "The share of rows a model labels correctly.", r"\baccuracy\b"),
    _t("SISA", "Sharded, isolated, sliced and aggregated training (Bourtoule et al. 2021): the training rows are "
       "split into shards, one model per shard, predictions by vote; forgetting a row retrains only its shard "
       "from the checkpoint before the row's slice.", r"\bSISA\b", case=True),
    _t("class removal", "Forgetting a whole class (every training row with one label). A model retrained without "
       "it has never seen the class: it gives it almost no probability and never predicts it.",
       r"\bclass removal\b|\bremoved class\b|\bdropped[- ]class\b|\bdropped_class\b"),
    _t("kept-class agreement", "For the rows of a removed class: the share whose most likely remaining class is "
       "the one a retrained model picks, i.e. whether the forgotten rows go where a retrain sends them.",
       r"\bkept[- ]class agreement\b|\bkept_class_agreement\b"),
    _t("RMSE", "Root mean squared error of a regression model: the typical size of its prediction errors, in the "
       "target's own units (smaller is better).", r"\bRMSE\b|\brmse\b", case=True),
    _t("MAE", "Mean absolute error of a regression model: the average size of its prediction errors, in the "
       "target's units.", r"\bMAE\b|\bmae\b", case=True),
    _t("R²", "Coefficient of determination: the share of the target's variance a regression model explains "
       "(1 = perfect, 0 = no better than predicting the mean).", r"R²|\br2\b"),
    _t("mean squared error", "MSE: the average squared prediction error of a regression model; a row's loss in "
       "a regression audit.", r"\bmean squared error\b|\bMSE\b|\bmse\b|\bsquared error\b"),
    _t("Wasserstein distance", "How far apart two distributions of predictions are, in the target's units (the "
       "average amount a prediction must move to turn one distribution into the other).",
       r"\bWasserstein\b|\bwasserstein\b"),
    _t("false-negative rate", "FNR: the share of truly positive rows a model labels negative.",
       r"\bFNR\b|\bfnr\b|\bfalse-negative\b", case=False),
    _t("false-positive rate", "FPR: the share of truly negative rows a model labels positive.",
       r"\bFPR\b|\bfpr\b|\bfalse-positive\b", case=False),
    _t("feature removal", "Checks that a model no longer depends on a removed input column: counterfactual flip "
       "rate (predictions that change when the column is toggled), score gap, permutation importance.",
       r"\bfeature removal\b|\bfeature_removal\b|\bcounterfactual\b|\bpermutation_importance\b"),
    _t("subgroup", "A group of rows sharing a value, e.g. a home language or a district, or a combination of "
       "two such values.", r"\bsub-?groups?\b|\bgroups?\b"),
    _t("discovered slice", "A subgroup nobody declared, found by searching the data (on one half of the "
       "held-out rows) and confirmed on the other half.", r"\bslices?\b"),
    _t("harm", "A group served worse by the unlearned model than by retrained models (lower accuracy, higher "
       "loss or error rates). Harm blocks the gate.", r"\bharm(?:ed|ful)?\b"),
    _t("improvement", "A group served better by the unlearned model than by retrained models. It is reported, "
       "and blocks only if the policy says so (subgroup_shift.blocks = \"both\").", r"\bimprov(?:ed|ement)s?\b"),
    _t("delta", "The unlearned model's value minus the average of the retrained models' values.", r"\bdeltas?\b"),
    _t("band", "The range of values fresh retrained models are expected to show (from the spread between the "
       "retrained models and the resampling of rows). Inside the pass band the check passes; beyond the wider "
       "fail band it fails; in between it is inconclusive.", r"\bbands?\b"),
    _t("margin", "The smallest difference the policy treats as mattering in practice; a band is never "
       "narrower than it.", r"\bmargins?\b"),
    _t("pass", "The evidence shows the unlearned model within what retrained models show.", r"\bpass(?:es|ed|ing)?\b"),
    _t("fail", "The evidence shows the unlearned model outside what retrained models show.", r"\bfail(?:s|ed)?\b"),
    _t("inconclusive", "Neither pass nor fail can be shown with the data at hand; the report says what would "
       "settle it (more rows or more retrained models).", r"\binconclusive\b"),
    _t("warn", "A result the gate lets through but that should be read (a policy may turn it into a failure).",
       r"\bwarn(?:ing)?s?\b"),
    _t("negative control", "Each retrained model is audited as if it were the unlearned one. A well calibrated "
       "check passes them: it does not flag genuine retrains.", r"\bnegative control\b"),
    _t("positive control", "The original model is audited as if it were the unlearned one. A check that flags "
       "it has the power to catch a model that forgot nothing.", r"\bpositive control\b"),
    _t("power", "Whether the audit could have caught a model that forgot nothing: some required forgetting "
       "check must flag the original. Without power a pass proves nothing, so the verdict is inconclusive.",
       r"\bpower\b"),
    _t("gate", "The pass/fail decision a pipeline acts on (the exit code): 0 pass, 1 fail, 3 inconclusive or "
       "error.", r"\bgate\b|\bexit code\b"),
    _t("policy", "The thresholds and the list of required checks this audit ran under (see \"Policy in force\").",
       r"\bpolicy\b"),
    _t("required check", "A check whose result counts towards the verdict; the others are informative.",
       r"\brequired\b"),
    _t("confidence interval", "CI: a range of values compatible with the data at the stated level, from "
       "resampling the rows.", r"\bCIs?\b|\bconfidence interval", case=True),
    _t("bootstrap", "Resampling the rows with replacement many times to see how much a value would vary.",
       r"\bbootstrap"),
    _t("normal-limit replicates", "For a value over many rows (50 000 by default), draws from the normal "
       "curve the bootstrap tends to, with the bootstrap's own spread, instead of resampling every row: "
       "used only when the rows are not too skewed for it (decision record 0022).", r"\bnormal[- ]limit"),
    _t("Student-t", "The distribution used to widen the bands when the spread is estimated from few retrained "
       "models.", r"\bStudent-t\b|\bt_"),
    _t("Bonferroni", "A correction for testing several metrics at once: each fail band is widened so that all "
       "metrics of a check together rarely fail a genuine retrain.", r"\bBonferroni\b"),
    _t("stream of deletion requests", "Requests served one after another, each unlearned on top of the model "
       "left by the previous ones; every step is audited against models retrained without all rows removed "
       "so far (the cumulative forget set).", r"\bstream of (?:deletion )?requests\b"),
    _t("cumulative forget set", "In a stream: the rows of every request served so far, which the model after "
       "that step must have forgotten.", r"\bcumulative forget set\b"),
    _t("drift ratio", "In a stream: how far a metric's delta goes in the blocked direction, as a share of that "
       "step's fail band (1 = at the fail band, above 1 = beyond it).", r"\bdrift ratios?\b"),
    _t("p-value", "The chance of seeing a difference at least this large if there were none; small means the "
       "difference is unlikely to be noise.", r"\bp-values?\b|\bp\b|\bp=|\bp<"),
    _t("Holm", "Holm's correction of p-values for testing many groups at once; it controls the chance of any "
       "false alarm.", r"\bHolm\b"),
    _t("Benjamini-Hochberg", "BH: a correction of p-values for many tests that controls the expected share of "
       "false alarms among the findings.", r"\bBenjamini|\bBH\b"),
    _t("McNemar test", "An exact test of paired right/wrong outcomes of two models on the same rows.",
       r"\bMcNemar\b"),
    _t("Wilcoxon test", "A test of paired differences (here per-row losses) that does not assume a normal "
       "distribution.", r"\bwilcoxon\b"),
    _t("Welch t-test", "A test of a difference in means between two sets of rows with unequal spreads.",
       r"\bWelch\b"),
    _t("identity check", "Fails an 'unlearned' model that is the original: the same file, or the same outputs "
       "on every row.", r"\bidentity\b"),
    _t("seed", "The number that fixes every random choice of the audit, so a rerun gives the same results.",
       r"\bseeds?\b"),
    _t("SHA-256", "A fingerprint of a file: any change to the file changes it.", r"\bSHA-256\b|\bsha256\b"),
    _t("commitment", "A keyed fingerprint (HMAC) of the forgotten rows' ids: the holder of the key can later "
       "prove which ids were covered, while nobody can recover an id from the report.", r"\bcommitment\b"),
    _t("evidence pack", "This directory: results.json, the reports, a manifest of hashes and an attestation; "
       "the command unlearn-audit verify checks that none of it was changed.", r"\bevidence pack\b|\bmanifest\b"),
    # language models (issue 16): verbatim memorisation and knowledge probes
    _t("greedy continuation", "What a language model writes after the start of a text when it always picks its "
       "most likely next word; the verbatim-memorisation check gives it the first half of each forgotten text.",
       r"\bgreedy\b|\bcontinuations?\b"),
    _t("exact match", "The share of forgotten texts whose greedy continuation reproduces the rest of the text "
       "word for word: an exact-match rate of 0.3 means 3 in 10 forgotten texts come back verbatim from their "
       "first half.", r"\bexact[ _-]match"),
    _t("ROUGE-L", "How much of the true rest of a text a continuation reproduces, in order: the longest run of "
       "words the two share (not necessarily adjacent) divided by the length of the true rest. A ROUGE-L of 0.3 "
       "means the continuation recovers 30 % of the words of the forgotten text's ending, in order.",
       r"\bROUGE(-L)?\b|\brouge_l\b", case=True),
    _t("extraction strength", "How little of a forgotten text an attacker must show the model before it "
       "reproduces the rest exactly: 1 minus the shortest sufficient prefix as a share of the text. An extraction "
       "strength of 0.3 means the model, shown the first 70 % of a text, writes the last 30 % itself; 0 means not "
       "even the last word comes back.", r"\bextraction[ _]strength\b"),
    _t("answer probability", "The probability the model gives the true answer when asked a question about a "
       "fact, per answer word (the geometric mean over the answer's tokens): 0.3 means each word of the true "
       "answer gets 30 % of the model's probability; a model that never saw the fact spreads it over all "
       "plausible answers.", r"\banswer[ _]probability\b"),
    _t("truth ratio", "From TOFU: how likely the model finds wrong but plausible answers compared with the true "
       "one (the average, over the wrong answers, of their per-word probability divided by the true answer's). "
       "About 1 means it cannot tell the true answer from the wrong ones, as for a person it never read about; "
       "0.3 means it finds the true answer about three times as likely as a wrong one: it still knows the fact.",
       r"\btruth[ _]ratios?\b|\blog_truth_ratio\b"),
    _t("forget quality", "TOFU's point score: the p-value of a two-sample Kolmogorov-Smirnov test between the "
       "truth ratios of the unlearned and of a retrained model on the forgotten facts. It has no confidence "
       "interval and no retrain-to-retrain noise floor; the knowledge-probe check asks the same question with "
       "both.", r"\bforget[ _]quality\b"),
    _t("privleak", "MUSE's point score: the relative gap (AUC of the unlearned model minus AUC of a retrained "
       "model, divided by the latter) of a Min-K% membership attack on the forgotten texts against held-out "
       "texts; 0 = like the retrain, negative = under-unlearned, positive = over-unlearned.", r"\bprivleak\b"),
)


_TAG = re.compile(r"<style\b.*?</style>|<svg\b.*?</svg>|<[^>]+>", re.DOTALL | re.IGNORECASE)


def visible_text(text: str, markup: str = "html") -> str:
    """What a reader sees of a rendered view: tags (and styles, figures) removed, escapes undone.

    Parameters
    ----------
    text : str
        A rendered view.
    markup : {"html", "md"}
        Its markup.

    Returns
    -------
    str

    Examples
    --------
    >>> visible_text("<p class='pass'>AUC &amp; KL</p>").strip()
    'AUC & KL'
    >>> visible_text(r"auc\\[loss\\] \\& x", "md")
    'auc[loss] & x'
    """
    if markup == "html":
        return html.unescape(_TAG.sub(" ", text))
    return re.sub(r"\\(.)", r"\1", html.unescape(text))


def terms_used(text: str) -> list[Term]:
    """The glossary entries whose term occurs in ``text`` (or in a definition of one that does).

    Parameters
    ----------
    text : str
        Visible text of a rendering.

    Returns
    -------
    list of Term
        In glossary order.

    Examples
    --------
    >>> used = [t.term for t in terms_used("The membership attack's AUC")]
    >>> "AUC" in used, "membership inference" in used, "Holm" in used
    (True, True, False)
    """
    used = {t.term for t in TERMS if t.found_in(text)}
    while True:  # a definition may use another term: define that one too
        more = {t.term for t in TERMS if t.term not in used
                and any(t.found_in(d.definition) for d in TERMS if d.term in used)}
        if not more:
            break
        used |= more
    return [t for t in TERMS if t.term in used]


_SPLITS = {"forget": "the forgotten rows", "retain": "the kept training rows",
           "test": "held-out rows no model trained on", "forget_vs_test": "the forgotten rows against never-seen rows",
           "parameters": "the model's weights", "all": "every row",
           "test_dropped": "held-out rows of the removed class",
           "forget_vs_test_dropped": "the removed class's training rows against its held-out rows"}
_CHECKS = {"identity": "the identity check", "utility": "utility", "output_divergence": "output divergence",
           "parameter_distance": "parameter distance", "membership_inference": "membership inference",
           "unlearning_inference": "unlearning inference", "subgroup_shift": "subgroup shift",
           "feature_removal": "feature removal", "canary": "canaries", "feature_injection": "feature injection",
           "sequence_membership": "sequence membership", "lm_utility": "language-model utility",
           "lm_divergence": "token-level divergence",
           "verbatim_memorisation": "verbatim memorisation", "knowledge_probe": "the knowledge probe"}
#: What each check asks, in words (the report's checks table).
QUESTIONS = {"identity": "Is the 'unlearned' model simply the original?",
             "utility": "Is it as accurate as a retrained model?",
             "output_divergence": "Do its predictions differ from retrained models' more than those differ "
                                  "among themselves?",
             "parameter_distance": "Are its weights further from retrained models' than those are from each other?",
             "membership_inference": "Can an attacker still tell that the forgotten rows were in its training data?",
             "unlearning_inference": "Does comparing the original with it reveal which rows were removed?",
             "subgroup_shift": "Did unlearning serve any group worse than a retrain would?",
             "feature_removal": "Does it still use the removed input column?",
             "sequence_membership": "Can an attacker still tell the forgotten texts from texts it never saw?",
             "lm_utility": "Does it predict kept and new texts as well as a retrained model (perplexity)?",
             "lm_divergence": "Do its next-token predictions differ from retrained models' more than those "
                              "differ among themselves?",
             "verbatim_memorisation": "Does it still complete the forgotten texts word for word?",
             "knowledge_probe": "Does it still know the forgotten facts when asked?"}


def split_words(split: str) -> str:
    """A split in words.

    Parameters
    ----------
    split : str
        A split name of results.json (``forget``, ``retain``, ``test``, ``forget_vs_test`` ...).

    Returns
    -------
    str

    Examples
    --------
    >>> split_words("forget")
    'the forgotten rows'
    """
    return _SPLITS.get(split, f"the {split} rows")


def check_words(check_id: str) -> str:
    """A check id in words.

    Parameters
    ----------
    check_id : str
        A check id (``method_<name>`` included).

    Returns
    -------
    str

    Examples
    --------
    >>> check_words("membership_inference")
    'membership inference'
    """
    return _CHECKS.get(check_id, check_id.replace("_", " "))


_ATTACKS = {"loss": "the loss attack", "lira_offline_refs": "the likelihood-ratio attack (LiRA)",
            "lira_online": "the likelihood-ratio attack with shadow models (LiRA)", "rmia": "the RMIA attack",
            "confidence": "the confidence attack", "entropy": "the entropy attack",
            "differencing": "the differencing attack", "zlib": "the zlib attack", "min_k": "the Min-K% attack",
            "min_k_plus_plus": "the Min-K%++ attack"}
_METRICS = {
    "accuracy": "accuracy", "loss": "average loss (prediction error)",
    "kl": "how far its predictions are from the retrained models' (KL divergence; 0 = identical)",
    "js": "JS divergence of its predictions from the retrained models'",
    "tv": "total variation of its predictions from the retrained models'",
    "disagreement": "share of rows where it predicts a different label than the retrained models",
    "loss_gap": "the loss on the forgotten rows minus that on never-seen rows (loss gap; below 0 = it still "
                "fits the forgotten rows better)",
    "l2": "distance of its weights from the retrained models' (L2)",
    "relative_l2": "relative distance of its weights from the retrained models'",
    "cosine": "cosine similarity of its weights to the retrained models'",
    "fnr": "false-negative rate", "fpr": "false-positive rate",
    "rmse": "typical prediction error (RMSE, in the target's units)",
    "mae": "average absolute prediction error (MAE, in the target's units)",
    "r2": "share of the target's variance explained (R²)", "mse": "mean squared error",
    "abs_diff": "average absolute difference between its predictions and the retrained models'",
    "wasserstein": "distance between its predictions' distribution and the retrained models' (Wasserstein)",
    "counterfactual_flip_rate": "share of predictions that change when the removed column is toggled",
    "score_gap": "change in score when the removed column is toggled",
    "permutation_importance": "accuracy lost when the removed column is shuffled",
    "forget_accuracy": "accuracy on the removed class's training rows (a retrain: about 0)",
    "dropped_class_mass": "average probability it gives the removed class on that class's rows",
    "kept_class_agreement": "share of the removed class's rows sent to the same kept class as a retrain sends them",
    "perplexity": "perplexity on the texts (how surprised the model is by them; lower is better)",
    "mean_nll": "average negative log-likelihood per token",
    "token_kl": "how far its next-token predictions are from the retrained models' (KL divergence; 0 = identical)",
    "top1_disagreement": "share of positions where its most likely next token differs from the retrained models'",
    "privleak": "relative AUC gap to the retrained models, in percent (privleak)",
    "exact_match": "share of forgotten texts it completes word for word from their first half (exact match)",
    "rouge_l": "share of each forgotten text's ending it reproduces, in order (ROUGE-L)",
    "extraction_strength": "how much of a forgotten text it writes itself from the shortest sufficient start "
                           "(extraction strength; 0 = nothing, 1 = all)",
    "answer_probability": "probability it gives the true answer to a question about a fact (answer probability)",
    "truth_ratio": "how likely it finds wrong answers compared with the true one (truth ratio; 1 = cannot tell)",
    "log_truth_ratio": "the logarithm of the truth ratio, averaged over questions (0 = cannot tell the true answer "
                       "from wrong ones, below 0 = still knows the facts)",
    "prefix_fraction": "share of each text shown as the prompt",
}


def metric_words(name: str) -> str:
    """A metric name of results.json in words.

    Parameters
    ----------
    name : str
        A metric name, with its ``[attack]``, ``[group]`` or ``[seed=k]`` qualifier.

    Returns
    -------
    str

    Examples
    --------
    >>> metric_words("auc[loss]")
    'how well the loss attack tells the forgotten rows from never-seen rows (AUC: 0.5 = guessing, 1 = certain)'
    >>> metric_words("accuracy[home_language=vi]")
    'accuracy for the group home_language=vi'
    """
    base, _, inner = name.partition("[")
    inner = inner.rstrip("]")
    if base == "auc":
        return (f"how well {_ATTACKS.get(inner, inner + ' attack')} tells the forgotten rows from never-seen rows "
                "(AUC: 0.5 = guessing, 1 = certain)")
    m = re.fullmatch(r"tpr@([0-9.]+)fpr", base)
    if m:
        return (f"share of the forgotten rows {_ATTACKS.get(inner, inner)} finds while wrongly accusing "
                f"{float(m.group(1)):.1%} of never-seen rows")
    words = _METRICS.get(base, base.replace("_", " "))
    return f"{words} for the group {inner}" if inner and base in ("accuracy", "loss", "fnr", "fpr", "mse") else words
