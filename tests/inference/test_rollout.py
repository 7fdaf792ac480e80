import pytest

from securebank.inference.rollout import RolloutError, RolloutState, deploy, promote, rollback


def _weights(state):
    return [(v.model_version, v.weight) for v in state.config.variants]


def test_canary_promote_and_rollback():
    s1 = deploy(RolloutState(), "ep", "1", "/m1")
    assert _weights(s1) == [("1", 1.0)] and s1.previous is None
    canary = deploy(s1, "ep", "2", "/m2", mode="canary", percent=20)
    assert _weights(canary) == [("1", 80.0), ("2", 20.0)]
    assert _weights(rollback(canary)) == [("1", 1.0)]
    promoted = promote(canary)
    assert _weights(promoted) == [("2", 1.0)]
    assert _weights(RolloutState(config=promoted.previous)) == [("1", 1.0)]
    back = rollback(promoted)
    assert _weights(back) == [("1", 1.0)]
    with pytest.raises(RolloutError, match="no previous configuration"):
        rollback(back)


def test_shadow_answers_nothing_and_can_be_promoted():
    s1 = deploy(RolloutState(), "ep", "1", "/m1")
    shadowed = deploy(s1, "ep", "2", "/m2", mode="shadow")
    assert _weights(shadowed) == [("1", 1.0)] and shadowed.config.shadow.model_version == "2"
    assert rollback(shadowed).config.shadow is None
    assert _weights(promote(shadowed)) == [("2", 1.0)]
    restored = RolloutState.from_dict(shadowed.to_dict())
    assert restored == shadowed


@pytest.mark.parametrize(
    ("setup", "call", "message"),
    [
        ("empty", lambda s: deploy(s, "ep", "2", "/m", mode="canary"), "nothing is deployed yet"),
        ("one", lambda s: deploy(s, "ep", "1", "/m", mode="shadow"), "already in production"),
        ("one", lambda s: deploy(s, "ep", "2", "/m", mode="canary", percent=100), "between 0"),
        ("one", promote, "no canary or shadow to promote"),
        ("canary", lambda s: deploy(s, "ep", "3", "/m", mode="shadow"), "already running"),
        ("empty", rollback, "nothing is deployed"),
    ],
)
def test_refused_transitions(setup, call, message):
    state = RolloutState()
    if setup in ("one", "canary"):
        state = deploy(state, "ep", "1", "/m1")
    if setup == "canary":
        state = deploy(state, "ep", "2", "/m2", mode="canary")
    with pytest.raises(RolloutError, match=message):
        call(state)
