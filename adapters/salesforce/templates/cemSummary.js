// The CEM panel on a Contact or Lead record page: stage, emotion with trend, churn risk, the reason with what the
// customer said, and the journey map. Data comes from Apex (CemSummaryController), which calls the CEM connector
// with a signed request; the journey map is a short-lived signed link framed from the connector (CSP Trusted Site).
import { LightningElement, api } from 'lwc';
import summary from '@salesforce/apex/CemSummaryController.summary';

const BADGES = { high: 'slds-badge slds-theme_error', medium: 'slds-badge slds-theme_warning',
                 low: 'slds-badge slds-theme_success' };

export default class CemSummary extends LightningElement {
    @api recordId;
    data;
    error;
    loading = true;

    connectedCallback() {
        summary({ recordId: this.recordId })
            .then((body) => {
                this.data = JSON.parse(body);
            })
            .catch((error) => {
                this.error = (error && error.body && error.body.message) || 'The CEM summary is unavailable.';
            })
            .finally(() => {
                this.loading = false;
            });
    }

    get ready() {
        return Boolean(this.data) && this.data.status === 'ready';
    }

    get pending() {
        return Boolean(this.data) && this.data.status !== 'ready';
    }

    get stageText() {
        const { label, since } = this.data.stage;
        return since ? `${label} since ${since.slice(0, 10)}` : label;
    }

    get emotionText() {
        const { label, score, trend } = this.data.emotion;
        return `${label} (${score.toFixed(1)}), ${trend > 0 ? '+' : ''}${trend.toFixed(1)} in 30 days`;
    }

    get riskText() {
        const { band, score } = this.data.risk;
        return `${band.charAt(0).toUpperCase()}${band.slice(1)} risk (${score})`;
    }

    get riskClass() {
        return BADGES[this.data.risk.band] || 'slds-badge';
    }

    get reasonText() {
        return this.data.reason.label;
    }

    get quoteText() {
        const { quote, quoteKind, quoteDate } = this.data.reason;
        return quote ? `“${quote}” (${quoteKind}, ${quoteDate})` : '';
    }

    get journeyUrl() {
        return this.data.journeyUrl;
    }
}
