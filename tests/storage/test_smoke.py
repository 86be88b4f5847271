from domain import Severity, Status
from storage.unit_of_work import UnitOfWorkFactory


async def test_declare_and_ack(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        inc = await uow.incidents.declare(
            team_id="T1", title="Checkout down", reporter_id="U1", channel_id="C1", severity=Severity.SEV1
        )
        await uow.commit()
    async with uow_factory() as uow:
        moved = await uow.incidents.update_status("T1", inc.id, Status.ACKNOWLEDGED, actor_id="U2")
        await uow.commit()
    assert moved.status is Status.ACKNOWLEDGED
    assert moved.acknowledged_at is not None
    assert moved.version == 2
