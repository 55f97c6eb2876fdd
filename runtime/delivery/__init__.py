"""After a run: the CRM write-back and the HubSpot callback, retried with back-off, every attempt kept."""

from runtime.delivery.batcher import Deliverer
from runtime.delivery.deliver import Delivery
from runtime.delivery.policy import Failure, RetryPolicy

__all__ = ["Deliverer", "Delivery", "Failure", "RetryPolicy"]
