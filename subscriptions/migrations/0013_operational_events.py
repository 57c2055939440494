# The hub's own operational events (eventhub.*): their origin "hub", and the index that finds a worker batch's
# give-ups (operational.py).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('subscriptions', '0012_delivery_ordering'),
        ('tenants', '0003_tenant_webhooks_limit'),
    ]

    operations = [
        migrations.AlterField(
            model_name='event',
            name='origin',
            field=models.CharField(choices=[('http', 'HTTP ingest'), ('broker', 'broker'), ('test', 'test event'), ('hub', 'operational')], default='http', max_length=8),
        ),
        migrations.AddIndex(
            model_name='delivery',
            index=models.Index(condition=models.Q(('status', 'failed')), fields=['tenant', 'finished_at'], name='delivery_given_up'),
        ),
    ]
