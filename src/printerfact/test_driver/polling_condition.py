"""nixpkgs' `test_driver.polling_condition`."""

from printerfact.driver.polling_condition import PollingCondition, PollingConditionError

__all__ = ["PollingCondition", "PollingConditionError"]
