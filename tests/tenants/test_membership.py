"""Members change role or leave through one service, whichever door they use: a tenant always keeps an owner."""

import pytest

from tenants.models import Membership, Role
from tenants.services import LastOwner, add_member, change_membership, create_tenant, ensure_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(tenant):
    return add_member(tenant, ensure_user("olga")[0], Role.OWNER)


def test_the_last_owner_can_be_neither_removed_nor_demoted(tenant, owner):
    with pytest.raises(LastOwner, match="olga is the last owner of acme"):
        change_membership(tenant=tenant, membership_id=owner.pk, remove=True)
    with pytest.raises(LastOwner):
        change_membership(tenant=tenant, membership_id=owner.pk, role=Role.EDITOR)
    assert Membership.objects.get(pk=owner.pk).role == Role.OWNER
    assert change_membership(tenant=tenant, membership_id=owner.pk, role=Role.OWNER).role == Role.OWNER  # no change


def test_with_a_second_owner_either_may_go(tenant, owner):
    second = add_member(tenant, ensure_user("otto")[0], Role.OWNER)
    change_membership(tenant=tenant, membership_id=owner.pk, role=Role.VIEWER)
    with pytest.raises(LastOwner):
        change_membership(tenant=tenant, membership_id=second.pk, remove=True)
    change_membership(tenant=tenant, membership_id=owner.pk, remove=True)
    assert list(Membership.objects.filter(tenant=tenant).values_list("user__username", "role")) == [("otto", Role.OWNER)]


def test_another_tenants_member_is_not_found(tenant, owner):
    globex = create_tenant("globex")[0]
    stranger = add_member(globex, ensure_user("gus")[0], Role.VIEWER)
    with pytest.raises(Membership.DoesNotExist):
        change_membership(tenant=tenant, membership_id=stranger.pk, remove=True)
