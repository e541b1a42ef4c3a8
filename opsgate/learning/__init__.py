"""Learning from evidence: agent metrics, shadow evaluation, replay, earned autonomy, releases and incidents."""
