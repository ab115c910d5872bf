import { useEffect } from 'preact/hooks';
import { Notice } from '../components/Notice';
import { Tabs } from '../components/Tabs';
import { ApiKeysTab } from '../integrations/ApiKeysTab';
import { DeliveriesTab } from '../integrations/DeliveriesTab';
import { ShieldTab } from '../integrations/ShieldTab';
import { WebhooksTab } from '../integrations/WebhooksTab';
import { navigate } from '../router';
import { canAdmin, useSession } from '../session';

const TABS = [
  { id: 'api-keys', label: 'API Keys' },
  { id: 'webhooks', label: 'Webhooks' },
  { id: 'deliveries', label: 'Deliveries' },
  { id: 'shield', label: 'Escalation Shield' },
];

/** Settings → Integrations: one tab per way a company's systems connect to Escalatr. */
export function IntegrationsPage({ tab }: { tab: string }) {
  const { session } = useSession();
  const current = TABS.find((t) => t.id === tab) ?? TABS[0];
  useEffect(() => {
    document.title = `${current.label} · Integrations · Escalatr`;
  }, [current.id]);
  return (
    <section class="page" aria-labelledby="integrations-title">
      <nav aria-label="Breadcrumb" class="breadcrumb">
        <span>Settings</span> <span aria-hidden="true">/</span> <span aria-current="page">Integrations</span>
      </nav>
      <h1 id="integrations-title">Integrations</h1>
      {!canAdmin(session) && (
        <Notice kind="info">
          Integrations are managed by owners and admins. As {session.user.role === 'agent' ? 'an agent' : 'a viewer'}{' '}
          you can read the Escalation Shield automations and feedback; nothing here can be changed.
        </Notice>
      )}
      <Tabs
        label="Integrations"
        tabs={TABS}
        current={current.id}
        onSelect={(id) => navigate(`/settings/integrations/${id}`)}
      >
        {current.id === 'api-keys' && <ApiKeysTab />}
        {current.id === 'webhooks' && <WebhooksTab />}
        {current.id === 'deliveries' && <DeliveriesTab />}
        {current.id === 'shield' && <ShieldTab />}
      </Tabs>
    </section>
  );
}
