"""Deliveries get a webhook-id of their own ("msg_" + a UUIDv7 in base32), made when the row is, instead of one
derived from the row id at send time.

A delivery recorded before keeps the id it was (or would have been) sent with, "msg_<row id>": a receiver that saw
it before the upgrade still recognises its retries. The column is added empty, filled, then made required and unique
(a field's callable default would give every existing row the same value).
"""

from django.db import migrations, models
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat

import subscriptions.core.signing


def keep_the_ids_existing_deliveries_were_sent_with(apps, schema_editor):
    Delivery = apps.get_model("subscriptions", "Delivery")
    Delivery.objects.using(schema_editor.connection.alias).filter(webhook_id__isnull=True).update(
        webhook_id=Concat(Value("msg_"), Cast("id", CharField()))
    )


class Migration(migrations.Migration):

    dependencies = [
        ("subscriptions", "0003_pipeline"),
    ]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="webhook_id",
            field=models.CharField(editable=False, max_length=40, null=True),
        ),
        migrations.RunPython(keep_the_ids_existing_deliveries_were_sent_with, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="delivery",
            name="webhook_id",
            field=models.CharField(default=subscriptions.core.signing.new_webhook_id, editable=False, max_length=40, unique=True),
        ),
    ]
