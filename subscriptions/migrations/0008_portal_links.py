"""Consumer portal links (issue 19): a link per consumer, kept as a digest of its token, with the endpoints it shows;
and per tenant the origins that may frame the portal."""

import django.db.models.deletion
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('subscriptions', '0007_emporix_config'),
        ('tenants', '0002_tenant_languages'),
    ]

    operations = [
        migrations.CreateModel(
            name='PortalSettings',
            fields=[
                ('tenant', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='portal_settings', serialize=False, to='tenants.tenant')),
                ('frame_origins', models.JSONField(blank=True, default=list)),
                ('modified_at', models.DateTimeField()),
            ],
        ),
        migrations.CreateModel(
            name='PortalLink',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('token_digest', models.CharField(editable=False, max_length=64, unique=True)),
                ('role', models.CharField(choices=[('viewer', 'viewer: health, deliveries and attempts'), ('editor', 'editor: also retry, test send and secret rotation')], default='viewer', max_length=8)),
                ('all_endpoints', models.BooleanField(default=False)),
                ('created_by', models.CharField(blank=True, default='', max_length=150)),
                ('created_at', models.DateTimeField()),
                ('expires_at', models.DateTimeField()),
                ('revoked_at', models.DateTimeField(blank=True, null=True)),
                ('endpoints', models.ManyToManyField(blank=True, related_name='portal_links', to='subscriptions.endpoint')),
                ('revealing', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='subscriptions.endpointsecret')),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='portal_links', to='tenants.tenant')),
            ],
            options={
                'ordering': ['-created_at'],
                'indexes': [models.Index(fields=['tenant', '-created_at'], name='portal_link_tenant_created')],
            },
        ),
    ]
