# The worker now announces a batch's attempts at once (signals.deliveries_attempted) and operational.py reads the
# given-up deliveries by their ids: nothing looks them up by finished_at any more, so the index only cost writes.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('subscriptions', '0013_operational_events'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='delivery',
            name='delivery_given_up',
        ),
    ]
