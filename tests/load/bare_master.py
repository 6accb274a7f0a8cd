"""A plain Locust master for tests: the load suite's user class names, and nothing else. It
never sends a world, so the chaperone workers that join it must stay silent. Only Locust
imports this file, in its own process."""

from locust import User, constant, task


class ReadUser(User):
    wait_time = constant(1)

    @task
    def nothing(self) -> None:
        return


class FlowUser(User):
    wait_time = constant(1)

    @task
    def nothing(self) -> None:
        return
