"""The LianaAutomation shapes of core objects."""

from __future__ import annotations

from kirje.domain.channels import Channel


def channel_view(channel: Channel, public_base: str) -> dict:
    """The seed's channel object plus `gtm_url`, the site-tracking script the WooCommerce
    plugin loads. `id` is a JSON integer: the plugin compares it with ===."""
    host = public_base.split("://", 1)[-1]
    return {
        "id": channel.id,
        "name": channel.name,
        "color": channel.color,
        "front_url": f"//{host}",
        "icon": channel.icon,
        "tracking_enabled": channel.tracking_enabled,
        "notes": channel.notes,
        "system_name": channel.system_name,
        "tracking_js": channel.tracking_js,
        "import_js": channel.import_js,
        "verbs": channel.verbs,
        "type": channel.type,
        "default_url": channel.default_url,
        "events": channel.events,
        "gtm_url": f"{public_base}/t/{channel.public_key}/gtm",
    }
