# Fewer indexes for every event and delivery written: the foreign keys' own indexes on Event.tenant, Delivery.tenant
# and Delivery.endpoint duplicate the leading column of composite indexes the queries use (unique_event_id,
# delivery_tenant_created, delivery_endpoint_created), and Delivery.webhook_id's unique=True made a second, LIKE index
# on PostgreSQL that no query uses; its uniqueness is now the constraint delivery_webhook_id. A delivery is inserted
# once and updated twice per attempt (lease, result), each time in every index.

import django.db.models.deletion
import subscriptions.core.signing
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('subscriptions', '0014_drop_delivery_given_up'),
        ('tenants', '0003_tenant_webhooks_limit'),
    ]

    operations = [
        migrations.AlterField(
            model_name='delivery',
            name='endpoint',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='deliveries', to='subscriptions.endpoint'),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='tenant',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='tenants.tenant'),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='webhook_id',
            field=models.CharField(default=subscriptions.core.signing.new_webhook_id, editable=False, max_length=40),
        ),
        migrations.AlterField(
            model_name='event',
            name='tenant',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='events', to='tenants.tenant'),
        ),
        migrations.AddConstraint(
            model_name='delivery',
            constraint=models.UniqueConstraint(fields=('webhook_id',), name='delivery_webhook_id'),
        ),
    ]
