"""A per-tenant routing version: the routing cache keys on one value replaced by every writer (signals and the
routing querysets), instead of counting and scanning endpoint and subscription rows for their latest modified_at,
which a writer that did not touch modified_at (the Django admin) left stale. No rows are needed up front: a tenant
without one has version None until its first routing change.

excluded_fields may be blank, so the admin can save a subscription that excludes nothing (no schema change)."""

import django.db.models.deletion
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('subscriptions', '0005_change_pairs_and_payload_formats'),
        ('tenants', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='RoutingVersion',
            fields=[
                ('tenant', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='routing_version', serialize=False, to='tenants.tenant')),
                ('version', models.UUIDField(default=uuid.uuid4)),
            ],
        ),
        migrations.AlterField(
            model_name='eventsubscription',
            name='excluded_fields',
            field=models.JSONField(blank=True, default=list),
        ),
    ]
