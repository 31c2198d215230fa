from fastapi import APIRouter, Request, Response

from app.api.deps import requires
from app.security.caller import Caller, Role

router = APIRouter()


@router.put("/fhir/Floor/{task_id}")
async def floor_route(request: Request, task_id: str, caller: Caller = requires(Role.LAB)) -> Response:
    await request.body()
    return Response(b'{"resourceType":"Task"}', media_type="application/fhir+json")
